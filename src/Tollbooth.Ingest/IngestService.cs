using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;
using Tollbooth.Log;

namespace Tollbooth.Ingest;

/// <summary>
/// Parses a request's clicks (straight into log records, with <see cref="ClickRecordParser"/>), appends the valid ones to their partitions (hash of ad_id) and
/// completes only once every one of them is durable (I1): the 202 that follows is a promise.
/// </summary>
public sealed class IngestService(IClickLog log, ClickParser parser, AdDirectory ads, IngestLimits limits, Action<Exception> onLogFailed, ClickSigning signing, IngestCounters? counters = null)
{
    private readonly ClickRecordParser _records = parser.RecordParser(signing);

    public IngestLimits Limits => limits;

    public ClickSigning Signing => signing;

    /// <summary>What ingest took in since the process started.</summary>
    public IngestCounters Counters { get; } = counters ?? new IngestCounters();

    /// <summary>
    /// Asked once a request's body is parsed, with the key's publisher (null for an admin key) and the number of
    /// clicks in it, before any is appended: null admits the request, an outcome refuses all of it (a rate limit's
    /// 429). Null for no check.
    /// </summary>
    public Func<string?, int, IngestOutcome?>? Admission { get; init; }

    public async Task<IngestOutcome> IngestAsync(ReadOnlyMemory<byte> body, string? contentType, string? keyPublisherId)
    {
        long started = Stopwatch.GetTimestamp();
        IngestOutcome outcome = await IngestCoreAsync(body, contentType, keyPublisherId);
        Count(outcome.Status == 202 ? null : outcome, started);
        return outcome;
    }

    /// <summary>Records one click made here (a click link's), durably; null when it is, else the failure.</summary>
    public async Task<IngestOutcome?> RecordAsync(Click click)
    {
        long started = Stopwatch.GetTimestamp();
        Counters.CountReceived(1);
        IngestOutcome? failed = await AppendAsync([click]);
        Count(failed, started);
        return failed;
    }

    private void Count(IngestOutcome? failed, long started)
    {
        if (failed is null)
        {
            Counters.Acknowledged?.Invoke(Stopwatch.GetElapsedTime(started));
        }
        else
        {
            Counters.CountRefused(failed.Code!);
        }
    }

    private async Task<IngestOutcome> IngestCoreAsync(ReadOnlyMemory<byte> body, string? contentType, string? keyPublisherId)
    {
        using ClickRecords parsed = _records.Parse(body.Span, contentType, keyPublisherId, log.PartitionCount);
        if (parsed.BodyError is { } bodyError)
        {
            return IngestOutcome.Failed(bodyError.Status, bodyError.Code, bodyError.Message);
        }

        int items = parsed.Items;
        Counters.CountReceived(items);
        if (Admission?.Invoke(keyPublisherId, items) is { } refused)
        {
            return refused;
        }

        foreach (Rejection rejection in parsed.Rejections)
        {
            Counters.CountRejected(rejection.Code);
        }

        // The log copies the records before AppendRecords returns; the buffers stay ours until the ads are remembered.
        IngestOutcome? failed = await DurableAsync(parsed.Batches(), static (log, batches) => log.AppendRecords(batches));
        if (failed is null)
        {
            parsed.RememberAds(ads);
            Counters.CountAccepted(parsed.Accepted);
        }

        return failed ?? IngestOutcome.Succeeded(parsed.Accepted, parsed.Rejections);
    }

    // Appends to every partition concerned and waits until all of it is durable; null on success.
    private async Task<IngestOutcome?> AppendAsync(Click[] clicks)
    {
        var perPartition = new List<byte[]>?[log.PartitionCount];
        foreach (Click click in clicks)
        {
            int partition = Partitioner.PartitionOf(click.AdId, log.PartitionCount);
            (perPartition[partition] ??= new()).Add(ClickCodec.Encode(click));
        }

        var batches = new List<PartitionBatch>(log.PartitionCount);
        for (int partition = 0; partition < perPartition.Length; partition++)
        {
            if (perPartition[partition] is { } payloads)
            {
                batches.Add(new PartitionBatch(partition, payloads));
            }
        }

        IngestOutcome? failed = await DurableAsync(batches, static (log, batches) => log.AppendAll(batches));
        if (failed is null)
        {
            foreach (Click click in clicks)
            {
                ads.Remember(click.AdId, click.AdvertiserId);
            }

            Counters.CountAccepted(clicks.Length);
        }

        return failed;
    }

    // Runs one append of all a request's partitions and waits until every part is durable; null on success, else the 503.
    private async Task<IngestOutcome?> DurableAsync<TBatches>(TBatches batches, Func<IClickLog, TBatches, Task<long>[]> append)
    {
        try
        {
            // All partitions' batches are taken or none (saturation refuses the whole request, so a 503 stored nothing).
            // One wait per request: a single partition's task (the one-click case) is awaited as is.
            Task<long>[] appended = append(log, batches);
            if (appended.Length == 1)
            {
                await appended[0];
            }
            else
            {
                await Task.WhenAll(appended);
            }
        }
        catch (LogSaturatedException)
        {
            return IngestOutcome.Failed(503, "saturated", "Tollbooth is taking in more clicks than it can store right now: retry after the Retry-After delay.");
        }
        catch (LogDiskFullException)
        {
            // Not fail-stop: the refused batch was cut back out of the log, which takes appends again once there is space.
            // Clicks of the request in other partitions may be stored; a resend counts them once (same click_id).
            return IngestOutcome.Failed(503, "disk_full", "Tollbooth's disk is full, so these clicks could not all be stored: send them again after the Retry-After delay (a click sent twice counts once).");
        }
        catch (LogUnavailableException)
        {
            // The log on Kafka did not acknowledge in time: not fail-stop, and some clicks may be stored; a resend counts once.
            return IngestOutcome.Failed(503, "log_unavailable", "The click log did not confirm these clicks in time, so they are not promised stored: send them again after the Retry-After delay (a click sent twice counts once).");
        }
        catch (LogFailedException exception)
        {
            // Fail-stop: a failed fsync is never retried and acknowledged; the host stops the process.
            onLogFailed(exception);
            return IngestOutcome.Failed(503, "storage_failed", "Tollbooth could not store these clicks durably and has stopped accepting: retry against a healthy instance.");
        }

        return null;
    }
}

/// <summary>What a click request came to: a 202 with counts and per-item rejections, or a whole-request error.</summary>
public sealed record IngestOutcome(int Status, int Accepted, IReadOnlyList<Rejection> Rejected, string? Code, string? Error)
{
    /// <summary>For a 429 or 503: whole seconds the client should wait before sending again; null when not said.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static IngestOutcome Succeeded(int accepted, IReadOnlyList<Rejection> rejected) => new(202, accepted, rejected, null, null);

    public static IngestOutcome Failed(int status, string code, string error) => new(status, 0, [], code, error);
}

using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Parsing a click body to log records, in one process on the same bodies (1,000 realistic clicks from
/// <see cref="Workload"/>, each with an IP address, as a JSON array and as NDJSON): the reference path ingest used
/// before (ClickParser's clicks, ClickSigning.Judge, ClickCodec.Encode and grouping by partition) against
/// ClickRecordParser writing the records straight into pooled partition buffers. Clicks a second and bytes allocated
/// per click, both on the measuring thread.
/// </summary>
public static class ParseBenchmark
{
    private const int Clicks = 1000;
    private const int Partitions = 8;
    private static readonly TimeSpan s_duration = TimeSpan.FromSeconds(3);

    public static void Run(ResultTable table)
    {
        long now = SystemClock.Instance.UtcNowMs;
        var limits = new IngestLimits();
        var reference = new ClickParser(limits, SystemClock.Instance, new IpPseudonymizer(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()));
        var signing = new ClickSigning(ClickTokens.Open(new ClickBodies.NoTokenKeys(), SystemClock.Instance), new ClickBodies.NoAdvertisers());
        ClickRecordParser records = reference.RecordParser(signing);
        foreach (bool ndjson in (bool[])[false, true])
        {
            byte[] body = ClickBodies.Body(Clicks, now, ndjson);
            string contentType = ndjson ? "application/x-ndjson" : "application/json";
            string shape = ndjson ? "NDJSON" : "JSON array";
            (double oldRate, double oldBytes) = Measure(() => ParseReference(reference, signing, body, contentType));
            (double newRate, double newBytes) = Measure(() => ParseRecords(records, body, contentType));
            table.Add($"parse a {Clicks:N0}-click {shape} body to log records", newRate, oldRate, "ClickParser + Judge + Encode", "clicks/s");
            table.Note($"parse a {Clicks:N0}-click {shape} body: bytes allocated per click", $"{newBytes:0.00} B (record parser) vs {oldBytes:N0} B (reference)");
        }
    }

    // Runs the parse repeatedly for the benchmark's duration after a warm-up; clicks a second and bytes per click.
    private static (double ClicksPerSecond, double BytesPerClick) Measure(Func<int> parse)
    {
        for (int i = 0; i < 50; i++)
        {
            parse();
        }

        long clicks = 0;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < s_duration)
        {
            clicks += parse();
        }

        watch.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        return (clicks / watch.Elapsed.TotalSeconds, (double)allocated / clicks);
    }

    // What IngestService did per request before the record parser: a Click each, judged, encoded and grouped.
    private static int ParseReference(ClickParser parser, ClickSigning signing, byte[] body, string contentType)
    {
        ParseOutcome outcome = parser.Parse(body, contentType, null);
        var perPartition = new List<byte[]>?[Partitions];
        foreach (ParsedClick parsed in outcome.Accepted)
        {
            signing.Judge(parsed.Click);
            (perPartition[Partitioner.PartitionOf(parsed.Click.AdId, Partitions)] ??= []).Add(ClickCodec.Encode(parsed.Click));
        }

        return Checked(outcome.Accepted.Count);
    }

    private static int ParseRecords(ClickRecordParser parser, byte[] body, string contentType)
    {
        using ClickRecords records = parser.Parse(body, contentType, null, Partitions);
        return Checked(records.Accepted);
    }

    private static int Checked(int accepted) =>
        accepted == Clicks ? accepted : throw new InvalidOperationException($"The benchmark body parsed to {accepted} accepted clicks, not {Clicks}.");
}

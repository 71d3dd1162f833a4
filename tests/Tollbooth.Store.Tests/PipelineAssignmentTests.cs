// Goal (issue 17): partitions can be given to and taken from a running pipeline, as a consumer group does on a
// rebalance, and every click is still counted exactly once: a revoked partition commits what it applied, and
// whoever is assigned it next resumes from that checkpoint. Method: a real segment log and DuckDB store in a temp
// directory; clicks appended between assignments; lag polled to zero with a deadline; counts read from the store.
using Tollbooth.Core;
using Tollbooth.Log;
using Tollbooth.Processing;

namespace Tollbooth.Store.Tests;

public sealed class PipelineAssignmentTests : IDisposable
{
    private const int Partitions = 4;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();
    private readonly long _nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private int _sent;

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Partitions_assigned_and_revoked_while_running_count_every_click_once()
    {
        using var log = SegmentLog.Open(new SegmentLogOptions { Directory = Path.Combine(_directory.Path, "log"), PartitionCount = Partitions });
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var pipeline = new Pipeline(log, store, new AggregatorOptions(), new ProcessorOptions { CommitIntervalMs = 20 }, (_, exception) => failures.Enqueue(exception), partitions: [0, 1]);
        pipeline.Start();
        Assert.Equal([0, 1], pipeline.Processors.Select(p => p.Partition));

        await SendAsync(log, 200);
        Assert.True(pipeline.Assign(2));
        Assert.True(pipeline.Assign(3));
        Assert.False(pipeline.Assign(3));
        CaughtUp(pipeline, log);

        Assert.True(pipeline.Revoke(1));
        Assert.False(pipeline.Revoke(1));
        await SendAsync(log, 200);
        Assert.Equal([0, 2, 3], pipeline.Processors.Select(p => p.Partition));
        Assert.True(pipeline.Assign(1));
        CaughtUp(pipeline, log);

        Assert.Empty(failures);
        Assert.Equal(_sent, store.ReadAllRows().Sum(row => row.Row.Clicks));
        Assert.Equal(_sent, pipeline.CommittedVerdicts(Verdict.Valid));
        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(log.DurableEnd(partition), store.ReadCheckpoint(partition).NextPosition);
        }
    }

    private async Task SendAsync(SegmentLog log, int clicks)
    {
        var perPartition = new List<byte[]>[Partitions];
        for (int i = 0; i < clicks; i++, _sent++)
        {
            string ad = $"ad{_sent % 16}";
            var click = new Click { ClickId = $"assign-{_sent}", AdId = ad, AdvertiserId = "adv", UserId = $"u{_sent}", TimestampMs = _nowMs, ReceivedMs = _nowMs };
            (perPartition[Partitioner.PartitionOf(ad, Partitions)] ??= new()).Add(ClickCodec.Encode(click));
        }

        for (int partition = 0; partition < Partitions; partition++)
        {
            if (perPartition[partition] is { } payloads)
            {
                await log.AppendAsync(partition, payloads);
            }
        }
    }

    private static void CaughtUp(Pipeline pipeline, SegmentLog log) =>
        Poll.Until(() => pipeline.Processors.Count == Partitions && pipeline.IsCaughtUp(), s_deadline, $"every partition to be assigned and caught up (processed {pipeline.Processed} of {Enumerable.Range(0, Partitions).Sum(log.DurableEnd)})");
}

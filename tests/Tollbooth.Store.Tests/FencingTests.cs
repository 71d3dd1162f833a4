// Goal (issue 17): a partition has one owner at a time as far as the store is concerned. Each claim raises the
// partition's epoch; a commit made with an earlier lease (an owner paused or partitioned away while another took
// the partition over) fails and writes nothing, alone or inside a group of other partitions' commits, and epochs
// never go back (not on a clear, not on a reopen). A processor that lost its partition stops, with a warning, instead
// of counting (not a failure of the process: in a cluster that is a rebalance heard of late).
// Method: seeded random rows through the real DuckDB store in a temp directory; the group case holds the first
// transaction with the CommitFault hook until the others queued (polled with a deadline); the processor case runs
// two real PartitionProcessors over one real segment log and store.
using Tollbooth.Core;
using Tollbooth.Log;
using Tollbooth.Processing;

namespace Tollbooth.Store.Tests;

public sealed class FencingTests : IDisposable
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _directory = new();
    private readonly Random _random;

    public FencingTests(ITestOutputHelper output)
    {
        _random = new Random(TestSeed.Next(output));
    }

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void A_commit_from_a_superseded_owner_fails_and_changes_nothing()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        PartitionLease first = store.Claim(2);
        List<WindowRow> rows = TestRows.Many(_random, 30);
        var checkpoint = new PartitionCheckpoint(2, 30, 1_000);
        store.Commit(first, checkpoint, rows, []);

        PartitionLease second = store.Claim(2);
        List<WindowRow> stale = rows.ConvertAll(row => TestRows.Make(_random, row.Key, 3));
        var failure = Assert.Throws<PartitionFencedException>(() => store.Commit(first, new PartitionCheckpoint(2, 45, 2_000), stale, []));

        Assert.Equal(first, failure.Lease);
        Assert.Equal(second.Epoch, failure.CurrentEpoch);
        Assert.Contains("claimed again", failure.Message);
        Assert.Equal(checkpoint, store.ReadCheckpoint(2));
        TestRows.AssertSameRows(rows, store.ReadRows(2, long.MinValue));

        // The new owner commits as usual.
        store.Commit(second, new PartitionCheckpoint(2, 50, 3_000), stale, []);
        Assert.Equal(new PartitionCheckpoint(2, 50, 3_000), store.ReadCheckpoint(2));
        TestRows.AssertSameRows(stale, store.ReadRows(2, long.MinValue));
    }

    [Fact]
    public void Claims_raise_each_partitions_epoch_on_its_own()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        PartitionLease a1 = store.Claim(0);
        PartitionLease b1 = store.Claim(1);
        PartitionLease a2 = store.Claim(0);

        Assert.True(a2.Epoch > a1.Epoch);
        Assert.Equal(a1.Epoch, b1.Epoch);

        // Partition 1's lease is still its newest: partition 0's claim fenced only partition 0.
        store.Commit(b1, new PartitionCheckpoint(1, 1, 0), TestRows.Many(_random, 3), []);
        Assert.Throws<PartitionFencedException>(() => store.Commit(a1, new PartitionCheckpoint(0, 1, 0), TestRows.Many(_random, 3), []));
        Assert.Throws<ArgumentException>(() => store.Commit(a2, new PartitionCheckpoint(1, 2, 0), [], []));
    }

    [Fact]
    public void Epochs_only_go_up_across_a_clear_and_a_reopen()
    {
        PartitionLease beforeClear;
        using (DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false))
        {
            beforeClear = store.Claim(4);
            store.Commit(beforeClear, new PartitionCheckpoint(4, 10, 0), TestRows.Many(_random, 10), []);
            store.Clear();
            PartitionLease afterClear = store.Claim(4);
            Assert.True(afterClear.Epoch > beforeClear.Epoch);
            Assert.Throws<PartitionFencedException>(() => store.Commit(beforeClear, new PartitionCheckpoint(4, 10, 0), [], []));
        }

        using DuckDbStore reopened = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        Assert.Throws<PartitionFencedException>(() => reopened.Commit(beforeClear, new PartitionCheckpoint(4, 10, 0), [], []));
        Assert.Equal(beforeClear.Epoch + 2, reopened.Claim(4).Epoch);
        Assert.Equal(PartitionCheckpoint.Empty(4), reopened.ReadCheckpoint(4));
    }

    [Fact]
    public void A_superseded_owners_commit_in_a_group_fails_alone_and_the_rest_of_the_group_is_written()
    {
        const int partitions = 4;
        const int fenced = 2;
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        PartitionLease[] leases = Enumerable.Range(0, partitions).Select(store.Claim).ToArray();
        PartitionLease successor = store.Claim(fenced);
        List<WindowRow>[] rows = Enumerable.Range(0, partitions).Select(p => TestRows.Many(_random, 20, $"p{p}-ad")).ToArray();

        // Partition 0's transaction waits inside until the other three commits queued behind it: they are one group.
        using var inside = new ManualResetEventSlim();
        int calls = 0;
        store.CommitFault = _ =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                inside.Set();
                Poll.Until(() => store.QueuedCommits == partitions - 1, s_deadline, "three commits to queue behind the first transaction");
            }
        };

        var failures = new Exception?[partitions];
        var threads = new List<Thread>();
        for (int partition = 0; partition < partitions; partition++)
        {
            int p = partition;
            threads.Add(new Thread(() => failures[p] = Record.Exception(() => store.Commit(leases[p], new PartitionCheckpoint(p, 20, 0), rows[p], []))));
            threads[^1].Start();
            if (p == 0)
            {
                Assert.True(inside.Wait(s_deadline), "the first commit's transaction did not start");
            }
        }

        threads.ForEach(thread => thread.Join());

        Assert.Equal((Commits: 3L, Transactions: 2L), store.CommitCounts);
        for (int partition = 0; partition < partitions; partition++)
        {
            if (partition == fenced)
            {
                Assert.IsType<PartitionFencedException>(failures[partition]);
                Assert.Equal(PartitionCheckpoint.Empty(partition), store.ReadCheckpoint(partition));
                Assert.Empty(store.ReadRows(partition, long.MinValue));
                continue;
            }

            Assert.Null(failures[partition]);
            Assert.Equal(new PartitionCheckpoint(partition, 20, 0), store.ReadCheckpoint(partition));
            TestRows.AssertSameRows(rows[partition], store.ReadRows(partition, long.MinValue));
        }

        store.CommitFault = null;
        store.Commit(successor, new PartitionCheckpoint(fenced, 20, 0), rows[fenced], []);
        TestRows.AssertSameRows(rows[fenced], store.ReadRows(fenced, long.MinValue));
    }

    [Fact]
    public async Task A_processor_whose_partition_another_claimed_stops_and_the_new_owner_counts_each_click_once()
    {
        using var log = SegmentLog.Open(new SegmentLogOptions { Directory = Path.Combine(_directory.Path, "log"), PartitionCount = 1 });
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var warnings = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var options = new ProcessorOptions { CommitIntervalMs = 20, Warn = warnings.Enqueue };
        using var old = new PartitionProcessor(0, log, store, new AggregatorOptions(), options, (_, exception) => failures.Enqueue(exception));
        old.Start();
        Assert.True(old.WaitRecovered(s_deadline), "the first owner did not recover");

        // The successor claims the partition while the first owner is still running (as after a pause).
        using var successor = new PartitionProcessor(0, log, store, new AggregatorOptions(), options, (_, exception) => failures.Enqueue(exception));
        successor.Start();
        Assert.True(successor.WaitRecovered(s_deadline), "the successor did not recover");

        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        const int clicks = 50;
        var payloads = Enumerable.Range(0, clicks)
            .Select(i => ClickCodec.Encode(new Click { ClickId = $"fence-{i}", AdId = "ad-fence", AdvertiserId = "adv-fence", UserId = $"u{i}", TimestampMs = now, ReceivedMs = now }))
            .ToList();
        await log.AppendAsync(0, payloads);

        Poll.Until(() => successor.CommittedPosition == clicks && old.IsFenced, s_deadline, "the successor to commit every click and the first owner to be refused and stop");
        Assert.Empty(failures);
        Assert.Contains(warnings, warning => warning.Contains("claimed again", StringComparison.Ordinal));
        Assert.False(successor.IsFenced);
        long counted = store.SumClicks("ad-fence", long.MinValue / 120_000, long.MaxValue / 120_000, default, null);
        Assert.Equal(clicks, counted);
        Assert.Equal(clicks, store.ReadCheckpoint(0).NextPosition);
    }
}

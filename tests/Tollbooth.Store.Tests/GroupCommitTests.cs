// Goal: partitions committing at once from their own threads share DuckDB transactions (issue 16) and still get
// exactly what commits one after another give: every partition's rows, changes and checkpoint (I3), each commit
// durable and readable when it returns, all or nothing per group, in order per partition. Method: seeded random
// commits from eight threads against the same commits made one by one on a second store; groups are made certain,
// not left to timing, by a first commit that waits inside its transaction (the CommitFault hook) until the commits
// under test have queued (polled with a deadline); faults are thrown from the same hook.
using Tollbooth.Core;

namespace Tollbooth.Store.Tests;

public sealed class GroupCommitTests : IDisposable
{
    private const int Partitions = 8;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _directory = new();
    private readonly int _seed;

    public GroupCommitTests(ITestOutputHelper output)
    {
        _seed = TestSeed.Next(output);
    }

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Partitions_committing_at_once_store_exactly_what_commits_one_by_one_store()
    {
        const int rounds = 15;
        List<Commit>[] commits = RandomCommits(new Random(_seed), rounds);
        using DuckDbStore grouped = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var start = new Barrier(Partitions);
        var threads = new List<Thread>();
        for (int partition = 0; partition < Partitions; partition++)
        {
            List<Commit> own = commits[partition];
            threads.Add(new Thread(() => Guard(errors, () =>
            {
                start.SignalAndWait();
                foreach (Commit commit in own)
                {
                    grouped.Commit(commit.Checkpoint, commit.Rows, commit.Changes);
                }
            })));
        }

        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());
        Assert.Empty(errors);

        using DuckDbStore sequential = DuckDbStore.Open(Path.Combine(_directory.Path, "sequential.duckdb"), new DuckDbStoreOptions { GroupCommits = false, RollInBackground = false });
        for (int round = 0; round < rounds; round++)
        {
            for (int partition = 0; partition < Partitions; partition++)
            {
                Commit commit = commits[partition][round];
                sequential.Commit(commit.Checkpoint, commit.Rows, commit.Changes);
            }
        }

        AssertSameContents(sequential, grouped);
        Assert.Equal((long)Partitions * rounds, grouped.CommitCounts.Commits);
        Assert.Equal((long)Partitions * rounds, sequential.CommitCounts.Transactions);
    }

    [Fact]
    public void Commits_queued_while_a_transaction_runs_are_written_together_in_the_next_one()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        var random = new Random(_seed);
        List<Commit>[] commits = RandomCommits(random, rounds: 1);
        using ManualResetEventSlim inside = HoldFirstTransactionUntilQueued(store, Partitions - 1);

        RunFirstThenTheRest(inside, partition => store.Commit(commits[partition][0].Checkpoint, commits[partition][0].Rows, commits[partition][0].Changes));

        // The first commit's transaction, then one for the seven that queued behind it.
        Assert.Equal((Commits: (long)Partitions, Transactions: 2L), store.CommitCounts);
        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(commits[partition][0].Checkpoint, store.ReadCheckpoint(partition));
            TestRows.AssertSameRows(commits[partition][0].Rows, store.ReadRows(partition, long.MinValue));
        }
    }

    [Fact]
    public void A_fault_inside_a_group_transaction_fails_every_commit_of_the_group_and_writes_none_of_them()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        List<Commit>[] commits = RandomCommits(new Random(_seed), rounds: 2);
        using var inside = new ManualResetEventSlim();
        store.CommitFault = checkpoint =>
        {
            if (checkpoint.Partition == 0)
            {
                inside.Set();
                Poll.Until(() => store.QueuedCommits == Partitions - 1, s_deadline, "the other partitions' commits to queue");
                return;
            }

            throw new IOException($"injected into the group, at partition {checkpoint.Partition}");
        };

        var failures = new Exception?[Partitions];
        RunFirstThenTheRest(inside, partition =>
        {
            Commit commit = commits[partition][0];
            failures[partition] = Record.Exception(() => store.Commit(commit.Checkpoint, commit.Rows, commit.Changes));
        });

        // Partition 0's transaction, alone, got through; the seven of the group behind it all failed.
        const int committed = 0;
        Assert.Equal((Commits: 1L, Transactions: 1L), store.CommitCounts);
        for (int partition = 0; partition < Partitions; partition++)
        {
            if (partition == committed)
            {
                Assert.Equal(commits[partition][0].Checkpoint, store.ReadCheckpoint(partition));
                TestRows.AssertSameRows(commits[partition][0].Rows, store.ReadRows(partition, long.MinValue));
                continue;
            }

            Assert.Contains("injected into the group", Assert.IsType<IOException>(failures[partition]).Message);
            Assert.Equal(PartitionCheckpoint.Empty(partition), store.ReadCheckpoint(partition));
            Assert.Empty(store.ReadRows(partition, long.MinValue));
        }

        Assert.DoesNotContain(store.ReadChanges(new long[Partitions], 1000, null), change => change.Partition != committed);

        // The store carries on: the next commits of every partition succeed, together or not.
        store.CommitFault = null;
        RunConcurrently(partition =>
        {
            Commit commit = commits[partition][1];
            store.Commit(commit.Checkpoint, commit.Rows, commit.Changes);
        });
        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(commits[partition][1].Checkpoint, store.ReadCheckpoint(partition));
        }
    }

    [Fact]
    public void A_commit_returns_only_once_its_rows_and_checkpoint_are_readable()
    {
        const int rounds = 10;
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        List<Commit>[] commits = RandomCommits(new Random(_seed), rounds);
        RunConcurrently(partition =>
        {
            foreach (Commit commit in commits[partition])
            {
                store.Commit(commit.Checkpoint, commit.Rows, commit.Changes);

                // Read at once, on a reader connection of its own: nothing of the commit may be missing.
                Assert.Equal(commit.Checkpoint, store.ReadCheckpoint(partition));
                foreach (WindowRow row in commit.Rows)
                {
                    TestRows.AssertSame(row, store.ReadRow(partition, row.Key));
                }
            }
        });

        (long committed, long transactions) = store.CommitCounts;
        Assert.Equal((long)Partitions * rounds, committed);
        Assert.True(transactions <= committed);
    }

    [Fact]
    public void Two_commits_of_one_partition_in_one_group_keep_their_order()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        var random = new Random(_seed);
        const int partition = 5;
        List<WindowRow> earlier = TestRows.Many(random, 60);
        var later = earlier.ConvertAll(row => TestRows.Make(random, row.Key, random.Next(0, 50)));
        later.AddRange(TestRows.Many(random, 10, "later"));

        // A commit of another partition holds the first transaction until both commits of partition 5 queued, in order.
        using ManualResetEventSlim inside = HoldFirstTransactionUntilQueued(store, 2);
        var holder = new Thread(() => store.Commit(new PartitionCheckpoint(0, 1, 0), TestRows.Many(new Random(_seed + 1), 5, "holder")));
        holder.Start();
        Assert.True(inside.Wait(s_deadline), "the holder's transaction did not start");
        Exception? earlierFailure = null;
        var first = new Thread(() => earlierFailure = Record.Exception(() => store.Commit(new PartitionCheckpoint(partition, 60, 1000), earlier)));
        first.Start();
        Poll.Until(() => store.QueuedCommits == 1, s_deadline, "the earlier commit to queue");
        store.Commit(new PartitionCheckpoint(partition, 70, 2000), later);
        first.Join();
        holder.Join();

        Assert.Null(earlierFailure);
        Assert.Equal((Commits: 3L, Transactions: 2L), store.CommitCounts);
        Assert.Equal(new PartitionCheckpoint(partition, 70, 2000), store.ReadCheckpoint(partition));
        TestRows.AssertSameRows(later, store.ReadRows(partition, long.MinValue));
    }

    // The first transaction sets the event returned, then waits inside until `queued` commits wait behind it; later
    // transactions run freely.
    private static ManualResetEventSlim HoldFirstTransactionUntilQueued(DuckDbStore store, int queued)
    {
        var inside = new ManualResetEventSlim();
        int calls = 0;
        store.CommitFault = _ =>
        {
            // Called once per commit of a group: the first call is the first transaction's, which the callers start
            // with one commit alone.
            if (Interlocked.Increment(ref calls) == 1)
            {
                inside.Set();
                Poll.Until(() => store.QueuedCommits == queued, s_deadline, $"{queued} commits to queue behind the first transaction");
            }
        };
        return inside;
    }

    // Partition 0's commit first, alone in its transaction (which `inside` says it entered), then the other
    // partitions', each on its own thread.
    private static void RunFirstThenTheRest(ManualResetEventSlim inside, Action<int> commit)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var first = new Thread(() => Guard(errors, () => commit(0)));
        first.Start();
        Assert.True(inside.Wait(s_deadline), "the first commit's transaction did not start");
        var threads = new List<Thread> { first };
        for (int partition = 1; partition < Partitions; partition++)
        {
            int owned = partition;
            var thread = new Thread(() => Guard(errors, () => commit(owned)));
            thread.Start();
            threads.Add(thread);
        }

        threads.ForEach(thread => thread.Join());
        Assert.Empty(errors);
    }

    private static void RunConcurrently(Action<int> commit)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = new List<Thread>();
        for (int partition = 0; partition < Partitions; partition++)
        {
            int owned = partition;
            threads.Add(new Thread(() => Guard(errors, () => commit(owned))));
        }

        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());
        Assert.Empty(errors);
    }

    private static void Guard(System.Collections.Concurrent.ConcurrentQueue<Exception> errors, Action work)
    {
        try
        {
            work();
        }
        catch (Exception error)
        {
            errors.Enqueue(error);
        }
    }

    // Per partition, `rounds` commits of its own ads: each round rewrites some earlier rows with new values, adds new
    // ones, publishes a change or two and moves the checkpoint on.
    private static List<Commit>[] RandomCommits(Random random, int rounds)
    {
        var commits = new List<Commit>[Partitions];
        for (int partition = 0; partition < Partitions; partition++)
        {
            commits[partition] = new List<Commit>(rounds);
            List<WindowRow> pool = TestRows.Many(random, 200, $"p{partition}-ad");
            long sequence = 0;
            for (int round = 0; round < rounds; round++)
            {
                var rows = new List<WindowRow>();
                var changes = new List<WindowChange>();
                int from = random.Next(pool.Count);
                int count = random.Next(0, 80);
                for (int i = 0; i < count && from + i < pool.Count; i++)
                {
                    WindowRow row = TestRows.Make(random, pool[from + i].Key, random.Next(0, 30));
                    rows.Add(row);
                    if (random.Next(4) == 0)
                    {
                        changes.Add(new WindowChange(partition, sequence++, row.Clone()));
                    }
                }

                var checkpoint = new PartitionCheckpoint(partition, (round + 1) * 1000L, 1_700_000_000_000 + round, sequence);
                commits[partition].Add(new Commit(checkpoint, rows, changes));
            }
        }

        return commits;
    }

    private static void AssertSameContents(DuckDbStore expected, DuckDbStore actual)
    {
        IReadOnlyList<(int Partition, WindowRow Row)> want = expected.ReadAllRows();
        IReadOnlyList<(int Partition, WindowRow Row)> got = actual.ReadAllRows();
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++)
        {
            Assert.Equal(want[i].Partition, got[i].Partition);
            TestRows.AssertSame(want[i].Row, got[i].Row);
        }

        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(expected.ReadCheckpoint(partition), actual.ReadCheckpoint(partition));
        }

        Assert.Equal(expected.ReadChanges(new long[Partitions], 100_000, null), actual.ReadChanges(new long[Partitions], 100_000, null));
    }

    private sealed record Commit(PartitionCheckpoint Checkpoint, List<WindowRow> Rows, List<WindowChange> Changes);
}

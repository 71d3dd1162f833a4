// Goal: eight partition processors committing at once while queries and key lookups run neither deadlock,
// nor throw, nor let a reader see half a commit. Method: each writer thread owns one partition and its own
// ads; in round r it sets every one of its rows to r clicks and its checkpoint to r, so an ad's sum is always
// a whole multiple of its row count and a partition's checkpoint never moves back. Reader threads check both
// while the writers run; the final state must equal every partition's last commit.
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store.Tests;

public sealed class ConcurrencyTests : IDisposable
{
    private const int Writers = 8;
    private const int Readers = 4;
    private const int Rounds = 12;
    private const int AdsPerPartition = 5;
    private const int RowsPerAd = 20;

    private readonly TempDirectory _directory = new();
    private readonly int _seed;

    public ConcurrencyTests(ITestOutputHelper output)
    {
        _seed = TestSeed.Next(output);
    }

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Eight_committing_partitions_and_concurrent_readers_never_see_a_partial_commit()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        store.AddKey(new ApiKey("key_admin", ApiKeyRole.Admin, null, null, "hash_admin", DateTimeOffset.FromUnixTimeMilliseconds(1)));
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var writersDone = new CountdownEvent(Writers);
        using var start = new Barrier(Writers + Readers);
        var threads = new List<Thread>();
        for (int partition = 0; partition < Writers; partition++)
        {
            int owned = partition;
            threads.Add(new Thread(() => Guard(errors, () =>
            {
                start.SignalAndWait();
                WriteRounds(store, owned);
            }, writersDone)));
        }

        for (int reader = 0; reader < Readers; reader++)
        {
            var random = new Random(_seed + 1 + reader);
            threads.Add(new Thread(() => Guard(errors, () =>
            {
                start.SignalAndWait();
                ReadUntil(store, random, writersDone);
            }, null)));
        }

        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());

        Assert.Empty(errors);
        AssertFinalState(store);
    }

    private static void Guard(System.Collections.Concurrent.ConcurrentQueue<Exception> errors, Action work, CountdownEvent? done)
    {
        try
        {
            work();
        }
        catch (Exception error)
        {
            errors.Enqueue(error);
        }
        finally
        {
            done?.Signal();
        }
    }

    private static void WriteRounds(DuckDbStore store, int partition)
    {
        for (int round = 1; round <= Rounds; round++)
        {
            var rows = new List<WindowRow>(AdsPerPartition * RowsPerAd);
            foreach (WindowKey key in Keys(partition))
            {
                rows.Add(TestRows.WithClicks(key, round));
            }

            store.Commit(new PartitionCheckpoint(partition, round, round * 60_000L), rows);
        }
    }

    private static void ReadUntil(DuckDbStore store, Random random, CountdownEvent writersDone)
    {
        var lastSeen = new long[Writers];
        int reads = 0;
        while (!writersDone.IsSet || reads < 50)
        {
            int partition = random.Next(Writers);
            string adId = AdId(partition, random.Next(AdsPerPartition));
            long sum = store.SumClicks(adId, long.MinValue, long.MaxValue, DimensionFilter.None, null);
            Assert.True(sum % RowsPerAd == 0, $"{adId} sums to {sum}, not a whole round of {RowsPerAd} rows");

            PartitionCheckpoint checkpoint = store.ReadCheckpoint(partition);
            Assert.True(checkpoint.NextPosition >= lastSeen[partition], $"partition {partition} went back to {checkpoint.NextPosition}");
            lastSeen[partition] = checkpoint.NextPosition;

            WindowRow? row = store.ReadRow(partition, new WindowKey(0, adId, "adv", "camp", "pub", "", Device.Mobile));
            Assert.True(row is null || row.Clicks is >= 1 and <= Rounds);
            Assert.NotNull(store.FindBySecretHash("hash_admin"));
            reads++;
        }
    }

    private static void AssertFinalState(DuckDbStore store)
    {
        for (int partition = 0; partition < Writers; partition++)
        {
            Assert.Equal(new PartitionCheckpoint(partition, Rounds, Rounds * 60_000L), store.ReadCheckpoint(partition));
            IReadOnlyList<WindowRow> rows = store.ReadRows(partition, long.MinValue);
            Assert.Equal(AdsPerPartition * RowsPerAd, rows.Count);
            Assert.All(rows, row => Assert.Equal(Rounds, row.Clicks));
        }

        Assert.Equal(Writers * AdsPerPartition * RowsPerAd, store.ReadAllRows().Count);
    }

    private static IEnumerable<WindowKey> Keys(int partition)
    {
        for (int ad = 0; ad < AdsPerPartition; ad++)
        {
            for (int minute = 0; minute < RowsPerAd; minute++)
            {
                yield return new WindowKey(minute, AdId(partition, ad), "adv", "camp", "pub", "", Device.Mobile);
            }
        }
    }

    private static string AdId(int partition, int ad) => $"p{partition}-ad{ad}";
}

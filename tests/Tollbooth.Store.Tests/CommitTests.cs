// Goal: a commit stores exactly the rows and checkpoint it was given, as absolute values (I2), all or
// nothing (I3), and they outlive the process. Method: seeded random rows (sparse, empty and dense sketches)
// go into a store in a fresh temp directory; reads compare every field and the sketch's serialized bytes;
// failures are provoked by the internal CommitFault hook and by an invalid row; durability by dispose and reopen.
using DuckDB.NET.Data;
using Tollbooth.Core;

namespace Tollbooth.Store.Tests;

public sealed class CommitTests : IDisposable
{
    private const int Partition = 3;

    private readonly TempDirectory _directory = new();
    private readonly Random _random;

    public CommitTests(ITestOutputHelper output)
    {
        _random = new Random(TestSeed.Next(output));
    }

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Committed_rows_are_read_back_exactly()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        List<WindowRow> rows = TestRows.Many(_random, 400);
        store.Commit(new PartitionCheckpoint(Partition, 400, 1_700_000_000_000), rows);

        TestRows.AssertSameRows(rows, store.ReadRows(Partition, long.MinValue));
        foreach (WindowRow row in rows)
        {
            TestRows.AssertSame(row, store.ReadRow(Partition, row.Key));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(HyperLogLog.SparseMax)]
    [InlineData(HyperLogLog.SparseMax + 1)]
    [InlineData(200_000)]
    public void Sketches_keep_their_exact_bytes_whether_empty_sparse_or_dense(int users)
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        WindowRow row = TestRows.Make(_random, new WindowKey(28_000_000, "ad1", "adv1", "camp1", "pub1", "", Device.Unknown), users);
        store.Commit(new PartitionCheckpoint(Partition, 1, 0), [row]);

        WindowRow? read = store.ReadRow(Partition, row.Key);
        TestRows.AssertSame(row, read);
        Assert.Equal(row.Users.Estimate(), read!.Users.Estimate());
    }

    [Fact]
    public void Committing_a_row_again_replaces_its_values_absolutely()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        List<WindowRow> first = TestRows.Many(_random, 100);
        store.Commit(new PartitionCheckpoint(Partition, 100, 0), first);
        store.Commit(new PartitionCheckpoint(Partition, 100, 0), first);
        TestRows.AssertSameRows(first, store.ReadRows(Partition, long.MinValue));

        var second = new List<WindowRow>();
        foreach (WindowRow row in first)
        {
            second.Add(TestRows.Make(_random, row.Key, _random.Next(0, 300)));
        }

        store.Commit(new PartitionCheckpoint(Partition, 200, 0), second);
        TestRows.AssertSameRows(second, store.ReadRows(Partition, long.MinValue));
    }

    [Fact]
    public void Checkpoint_is_read_back_and_a_partition_that_never_committed_reads_empty()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        Assert.Equal(PartitionCheckpoint.Empty(Partition), store.ReadCheckpoint(Partition));

        var none = new PartitionCheckpoint(Partition, 17, long.MinValue);
        store.Commit(none, []);
        Assert.Equal(none, store.ReadCheckpoint(Partition));

        var later = new PartitionCheckpoint(Partition, 1234, 1_700_000_123_456);
        store.Commit(later, TestRows.Many(_random, 5));
        Assert.Equal(later, store.ReadCheckpoint(Partition));
        Assert.Equal(PartitionCheckpoint.Empty(Partition + 1), store.ReadCheckpoint(Partition + 1));
    }

    [Fact]
    public void Commit_that_fails_before_COMMIT_leaves_neither_rows_nor_checkpoint()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        List<WindowRow> before = TestRows.Many(_random, 50);
        var committed = new PartitionCheckpoint(Partition, 50, 1000);
        store.Commit(committed, before);

        var changed = new List<WindowRow>();
        foreach (WindowRow row in before)
        {
            changed.Add(TestRows.Make(_random, row.Key, 3));
        }

        changed.AddRange(TestRows.Many(_random, 30, "other"));
        store.CommitFault = _ => throw new IOException("injected");
        Assert.Throws<IOException>(() => store.Commit(new PartitionCheckpoint(Partition, 99, 2000), changed));

        Assert.Equal(committed, store.ReadCheckpoint(Partition));
        TestRows.AssertSameRows(before, store.ReadRows(Partition, long.MinValue));

        // The store carries on after the failure: the same commit succeeds once the fault is gone.
        store.CommitFault = null;
        store.Commit(new PartitionCheckpoint(Partition, 99, 2000), changed);
        Assert.Equal(new PartitionCheckpoint(Partition, 99, 2000), store.ReadCheckpoint(Partition));
        TestRows.AssertSameRows(changed, store.ReadRows(Partition, long.MinValue));
    }

    [Fact]
    public void Commit_with_an_invalid_row_leaves_neither_rows_nor_checkpoint()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        List<WindowRow> rows = TestRows.Many(_random, 20);
        rows.Add(TestRows.WithClicks(new WindowKey(28_000_000, null!, "adv", "camp", "pub", "", Device.Mobile), 1));

        // The NOT NULL constraint of window_rows fails in the upsert, after the rows were staged.
        var error = Assert.Throws<DuckDBException>(() => store.Commit(new PartitionCheckpoint(Partition, 21, 0), rows));

        Assert.Contains("ad_id", error.Message);

        Assert.Equal(PartitionCheckpoint.Empty(Partition), store.ReadCheckpoint(Partition));
        Assert.Empty(store.ReadAllRows());
    }

    [Fact]
    public void Commit_holding_one_key_twice_is_refused_and_writes_nothing()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        List<WindowRow> rows = TestRows.Many(_random, 10);
        rows.Add(TestRows.WithClicks(rows[4].Key, 5));

        var error = Assert.Throws<ArgumentException>(() => store.Commit(new PartitionCheckpoint(Partition, 11, 0), rows));

        Assert.Contains("twice", error.Message);
        Assert.Equal(PartitionCheckpoint.Empty(Partition), store.ReadCheckpoint(Partition));
        Assert.Empty(store.ReadAllRows());
    }

    [Fact]
    public void Rows_checkpoints_and_keys_survive_dispose_and_reopen()
    {
        List<WindowRow> rows = TestRows.Many(_random, 300);
        var checkpoint = new PartitionCheckpoint(Partition, 300, 1_700_000_000_000);
        var key = new ApiKey("key_1", ApiKeyRole.Admin, null, null, "hash1", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123));
        using (DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath))
        {
            store.Commit(checkpoint, rows);
            store.AddKey(key);
        }

        using (DuckDbStore reopened = DuckDbStore.Open(_directory.DatabasePath))
        {
            Assert.Equal(checkpoint, reopened.ReadCheckpoint(Partition));
            TestRows.AssertSameRows(rows, reopened.ReadRows(Partition, long.MinValue));
            Assert.Equal(key, reopened.FindBySecretHash("hash1"));
        }
    }

    [Fact]
    public void ReadRows_returns_the_partitions_rows_from_the_given_minute_on()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        List<WindowRow> mine = TestRows.Many(_random, 200);
        store.Commit(new PartitionCheckpoint(Partition, 1, 0), mine);
        store.Commit(new PartitionCheckpoint(Partition + 1, 1, 0), TestRows.Many(_random, 200, "theirs"));

        long fromMinute = mine[100].Key.Minute;
        List<WindowRow> expected = mine.FindAll(row => row.Key.Minute >= fromMinute);
        Assert.True(expected.Count is > 0 and < 200);
        TestRows.AssertSameRows(expected, store.ReadRows(Partition, fromMinute));
    }

    [Fact]
    public void ReadRow_matches_the_whole_key_and_the_partition()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        var key = new WindowKey(28_000_000, "ad1", "adv1", "camp1", "pub1", "DE", Device.Tablet);
        store.Commit(new PartitionCheckpoint(Partition, 1, 0), [TestRows.WithClicks(key, 7)]);

        Assert.Equal(7, store.ReadRow(Partition, key)!.Clicks);
        Assert.Null(store.ReadRow(Partition + 1, key));
        Assert.Null(store.ReadRow(Partition, key with { Minute = key.Minute + 1 }));
        Assert.Null(store.ReadRow(Partition, key with { AdId = "ad2" }));
        Assert.Null(store.ReadRow(Partition, key with { AdvertiserId = "adv2" }));
        Assert.Null(store.ReadRow(Partition, key with { CampaignId = "camp2" }));
        Assert.Null(store.ReadRow(Partition, key with { PublisherId = "pub2" }));
        Assert.Null(store.ReadRow(Partition, key with { Country = "" }));
        Assert.Null(store.ReadRow(Partition, key with { Device = Device.Desktop }));
    }

    [Fact]
    public void ReadAllRows_orders_by_partition_then_every_key_column()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        List<WindowRow> rows = TestRows.Many(_random, 300);
        for (int partition = 2; partition >= 0; partition--)
        {
            List<WindowRow> part = rows.GetRange(partition * 100, 100);
            part.Reverse();
            store.Commit(new PartitionCheckpoint(partition, 1, 0), part);
        }

        IReadOnlyList<(int Partition, WindowRow Row)> all = store.ReadAllRows();
        Assert.Equal(300, all.Count);
        for (int i = 1; i < all.Count; i++)
        {
            Assert.True(Compare(all[i - 1], all[i]) < 0, $"rows {i - 1} and {i} are out of order");
        }
    }

    [Fact]
    public void Clear_deletes_rows_and_checkpoints_but_keeps_keys()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        store.Commit(new PartitionCheckpoint(Partition, 10, 5), TestRows.Many(_random, 50));
        var key = new ApiKey("key_1", ApiKeyRole.Publisher, "pub1", null, "hash1", DateTimeOffset.FromUnixTimeMilliseconds(1));
        store.AddKey(key);

        store.Clear();

        Assert.Empty(store.ReadAllRows());
        Assert.Equal(PartitionCheckpoint.Empty(Partition), store.ReadCheckpoint(Partition));
        Assert.Equal([key], store.ListKeys());
    }

    [Fact]
    public void Store_refuses_use_after_dispose()
    {
        DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        store.Dispose();
        store.Dispose();

        Assert.Throws<ObjectDisposedException>(() => store.ReadCheckpoint(Partition));
        Assert.Throws<ObjectDisposedException>(() => store.Commit(PartitionCheckpoint.Empty(Partition), []));
    }

    private static int Compare((int Partition, WindowRow Row) a, (int Partition, WindowRow Row) b)
    {
        int byPartition = a.Partition.CompareTo(b.Partition);
        if (byPartition != 0)
        {
            return byPartition;
        }

        WindowKey x = a.Row.Key;
        WindowKey y = b.Row.Key;
        int[] order =
        [
            x.Minute.CompareTo(y.Minute),
            string.CompareOrdinal(x.AdId, y.AdId),
            string.CompareOrdinal(x.AdvertiserId, y.AdvertiserId),
            string.CompareOrdinal(x.CampaignId, y.CampaignId),
            string.CompareOrdinal(x.PublisherId, y.PublisherId),
            string.CompareOrdinal(x.Country, y.Country),
            x.Device.CompareTo(y.Device),
        ];
        foreach (int comparison in order)
        {
            if (comparison != 0)
            {
                return comparison;
            }
        }

        return 0;
    }
}

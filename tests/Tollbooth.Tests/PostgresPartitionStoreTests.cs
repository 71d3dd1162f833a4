// Goal (issue 17): the partition state on PostgreSQL is the DuckDB store's, bit for bit: the same log processed into
// either gives the same rows (every number, status, revision, rule version and sketch byte), checkpoints and change
// feed; and its commits are fenced by owner epochs as DuckDB's are. Method: a real PostgreSQL 15 started by the test
// on a free port (PostgresCluster), a real segment log and DuckDB store in a temp directory, seeded clicks (late
// ones, resends, many users), each partition processed step by step (PartitionWork) with commits at seeded points.
using Tollbooth.Core;
using Tollbooth.Log;
using Tollbooth.Postgres;
using Tollbooth.Processing;
using Tollbooth.Store;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class PostgresPartitionStoreTests(PostgresPartitionStoreTests.Cluster cluster, ITestOutputHelper output) : IClassFixture<PostgresPartitionStoreTests.Cluster>, IDisposable
{
    private const int Partitions = 3;

    private readonly string _directory = TollboothProcess.NewDataDirectory();

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_same_log_gives_the_same_rows_checkpoints_and_changes_in_PostgreSQL_as_in_DuckDB()
    {
        int seed = TestSeed.Next();
        output.WriteLine($"seed {seed} (replay with TOLLBOOTH_TEST_SEED={seed})");
        using var log = SegmentLog.Open(new SegmentLogOptions { Directory = Path.Combine(_directory, "log"), PartitionCount = Partitions });
        await AppendClicksAsync(log, new Random(seed), 6_000);
        using DuckDbStore duck = DuckDbStore.Open(Path.Combine(_directory, "tollbooth.duckdb"), rollInBackground: false);
        using PostgresPartitionStore postgres = PostgresPartitionStore.Open(cluster.Postgres.ConnectionString + ";Database=" + cluster.NewDatabase());
        ProcessAll(log, duck, new Random(seed + 1));
        ProcessAll(log, postgres, new Random(seed + 2));

        Assert.Equal(duck.ReadAllRows().Select(Describe), postgres.ReadAllRows().Select(Describe));
        Assert.True(duck.ReadAllRows().Count > 100, "the log made too few rows to compare");
        var next = new long[Partitions];
        IReadOnlyList<StoredChange> duckChanges = duck.ReadChanges(next, 1_000_000, null);
        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(duck.ReadCheckpoint(partition), postgres.ReadCheckpoint(partition));
            Assert.Equal(duckChanges.Where(c => c.Partition == partition).OrderBy(c => c.Sequence).Select(Describe), postgres.ReadChangesText(partition));
        }
    }

    [Fact]
    public void A_commit_from_a_superseded_owner_fails_and_changes_nothing_in_PostgreSQL()
    {
        using PostgresPartitionStore store = PostgresPartitionStore.Open(cluster.Postgres.ConnectionString + ";Database=" + cluster.NewDatabase());
        PartitionLease first = store.Claim(1);
        var row = new WindowRow(new WindowKey(29_000_000, "ad1", "adv1", "", "", "", Device.Unknown)) { Received = 3, Clicks = 3 };
        store.Commit(first, new PartitionCheckpoint(1, 3, 1_000), [row], []);

        PartitionLease second = store.Claim(1);
        Assert.True(second.Epoch > first.Epoch);
        var later = new WindowRow(row.Key) { Received = 9, Clicks = 9 };
        var failure = Assert.Throws<PartitionFencedException>(() => store.Commit(first, new PartitionCheckpoint(1, 9, 2_000), [later], []));
        Assert.Equal(second.Epoch, failure.CurrentEpoch);
        Assert.Equal(new PartitionCheckpoint(1, 3, 1_000), store.ReadCheckpoint(1));
        Assert.Equal(3, store.ReadRow(1, row.Key)!.Clicks);

        store.Commit(second, new PartitionCheckpoint(1, 9, 2_000), [later], []);
        Assert.Equal(9, store.ReadRow(1, row.Key)!.Clicks);
        Assert.Equal(new PartitionCheckpoint(1, 9, 2_000), store.ReadCheckpoint(1));
    }

    private static async Task AppendClicksAsync(SegmentLog log, Random random, int clicks)
    {
        long start = DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeMilliseconds();
        var sent = new List<Click>();
        var perPartition = new List<byte[]>[Partitions];
        for (int i = 0; i < clicks; i++)
        {
            long now = start + (i * 900L);
            Click click = sent.Count > 0 && random.Next(20) == 0 ? Again(sent[random.Next(sent.Count)], now) : new Click
            {
                ClickId = $"pg{i}",
                AdId = $"ad{random.Next(40)}",
                AdvertiserId = $"adv{random.Next(4)}",
                CampaignId = $"camp{random.Next(3)}",
                PublisherId = $"pub{random.Next(2)}",
                UserId = $"u{random.Next(500)}",
                Country = random.Next(2) == 0 ? "US" : "FR",
                Device = (Device)random.Next(0, 4),
                CostMicros = random.Next(0, 4) * 100_000,
                TimestampMs = random.Next(40) == 0 ? now - 1_200_000 : now - random.Next(0, 20_000),
                ReceivedMs = now,
            };
            sent.Add(click);
            (perPartition[Partitioner.PartitionOf(click.AdId, Partitions)] ??= new()).Add(ClickCodec.Encode(click));
        }

        for (int partition = 0; partition < Partitions; partition++)
        {
            await log.AppendAsync(partition, perPartition[partition]);
        }
    }

    private static Click Again(Click click, long now) => new()
    {
        ClickId = click.ClickId, AdId = click.AdId, AdvertiserId = click.AdvertiserId, CampaignId = click.CampaignId, PublisherId = click.PublisherId,
        UserId = click.UserId, Country = click.Country, Device = click.Device, CostMicros = click.CostMicros, TimestampMs = click.TimestampMs, ReceivedMs = now,
    };

    private static void ProcessAll(SegmentLog log, IPartitionStore store, Random random)
    {
        for (int partition = 0; partition < Partitions; partition++)
        {
            using var work = new PartitionWork(partition, log, store, new AggregatorOptions(), new ProcessorOptions { ReadBatchRecordsMax = random.Next(50, 500) });
            work.Recover();
            while (work.ApplyAvailable() > 0)
            {
                if (random.Next(3) == 0)
                {
                    work.Commit();
                }
            }

            if (work.AppliedSinceCommit > 0)
            {
                work.Commit();
            }
        }
    }

    private static string Describe((int Partition, WindowRow Row) stored)
    {
        WindowRow row = stored.Row;
        return $"{stored.Partition} {row.Key} {row.Received} {row.Clicks} {row.SpendMicros} {row.DuplicateClicks} {row.InvalidBadToken} {row.InvalidBot} " +
            $"{row.InvalidRate} {row.InvalidUnsigned} {row.TooLate} {row.LateClicks} {row.RuleVersion} {row.Status} {row.Revision} {row.Pending} {Convert.ToHexString(row.Users.Serialize())}";
    }

    private static string Describe(StoredChange change)
    {
        WindowKey key = change.Key;
        WindowNumbers n = change.Numbers;
        return string.Join(' ', (object[])[change.Partition, change.Sequence, key.Minute, key.AdId, key.AdvertiserId, key.CampaignId, key.PublisherId, key.Country, (short)key.Device,
            (short)change.Status, change.Revision, n.Received, n.Clicks, n.SpendMicros, n.DuplicateClicks, n.InvalidBadToken, n.InvalidBot, n.InvalidRate, n.InvalidUnsigned,
            n.TooLate, n.LateClicks, n.UniqueUsers, change.RuleVersion]);
    }

    /// <summary>One PostgreSQL cluster for the class; each test gets a database of its own.</summary>
    public sealed class Cluster : IDisposable
    {
        private int _databases;

        public PostgresCluster Postgres { get; } = PostgresCluster.Start();

        public string NewDatabase()
        {
            string name = $"partition_state_{Interlocked.Increment(ref _databases)}";
            using var connection = new Npgsql.NpgsqlConnection(Postgres.ConnectionString);
            connection.Open();
            using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
            create.ExecuteNonQuery();
            return name;
        }

        public void Dispose() => Postgres.Dispose();
    }
}

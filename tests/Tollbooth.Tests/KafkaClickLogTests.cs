// Goal (issue 17): the click log on Kafka keeps the log's contract: an append completes once Kafka acknowledged every
// record (acks=all, idempotent), records are read back in order at consecutive positions from any position, the
// durable end follows what was acknowledged, processors over it count every click exactly once across a restart,
// and an append the brokers cannot take fails as unavailable (a 503 to the client), not as a failed disk.
// Method: librdkafka's Kafka-protocol cluster, in its own process (`tollbooth dev-kafka`) or in this one when the
// test takes its brokers down; real Confluent.Kafka clients; a real DuckDB store in a temp directory.
using System.Text;
using Tollbooth.Core;
using Tollbooth.Kafka;
using Tollbooth.Log;
using Tollbooth.Processing;
using Tollbooth.Store;

namespace Tollbooth.Tests;

public sealed class KafkaClickLogTests : IDisposable
{
    private const int Partitions = 3;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    private readonly string _directory = TollboothProcess.NewDataDirectory();
    private readonly long _nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Records_appended_to_the_Kafka_log_are_read_back_in_order_at_consecutive_positions()
    {
        using var kafka = DevKafkaProcess.Start("--topic", "log-test", "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using KafkaClickLog log = KafkaClickLog.Open(new KafkaClickLogOptions { BootstrapServers = kafka.BootstrapServers, Topic = "log-test" });
        Assert.Equal(Partitions, log.PartitionCount);

        var sent = Enumerable.Range(0, Partitions).Select(_ => new List<byte[]>()).ToArray();
        for (int round = 0; round < 4; round++)
        {
            var batches = new List<PartitionRecords>();
            for (int partition = 0; partition < Partitions; partition++)
            {
                byte[][] records = Enumerable.Range(0, 50).Select(i => Record($"p{partition}-r{round}-{i}", $"ad{partition}")).ToArray();
                sent[partition].AddRange(records);
                batches.Add(new PartitionRecords(partition, records.SelectMany(r => r).ToArray(), records.Select(r => r.Length).ToArray()));
            }

            long[] firsts = await Task.WhenAll(log.AppendRecords(batches.ToArray()));
            Assert.All(firsts, first => Assert.Equal(round * 50, first));
        }

        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(sent[partition].Count, log.DurableEnd(partition));
            Assert.Equal(0, log.FirstPosition(partition));
            Assert.Equal(sent[partition], ReadAll(log, partition, 0, sent[partition].Count));
            Assert.Equal(sent[partition].Skip(77), ReadAll(log, partition, 77, sent[partition].Count));
        }
    }

    [Fact]
    public async Task Processors_over_the_Kafka_log_count_every_click_once_across_a_restart()
    {
        using var kafka = DevKafkaProcess.Start("--topic", "pipeline-test", "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using KafkaClickLog log = KafkaClickLog.Open(new KafkaClickLogOptions { BootstrapServers = kafka.BootstrapServers, Topic = "pipeline-test" });
        using DuckDbStore store = DuckDbStore.Open(Path.Combine(_directory, "tollbooth.duckdb"), rollInBackground: false);

        await AppendClicksAsync(log, 0, 600);
        await RunUntilCaughtUpAsync(log, store);
        await AppendClicksAsync(log, 600, 400);

        // Half of them again, as resends: duplicates, never counted twice.
        await AppendClicksAsync(log, 0, 300);
        await RunUntilCaughtUpAsync(log, store);

        IReadOnlyList<(int Partition, WindowRow Row)> rows = store.ReadAllRows();
        Assert.Equal(1_000, rows.Sum(r => r.Row.Clicks));
        Assert.Equal(300, rows.Sum(r => r.Row.DuplicateClicks));
        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(log.DurableEnd(partition), store.ReadCheckpoint(partition).NextPosition);
        }
    }

    [Fact]
    public async Task An_append_the_brokers_cannot_take_fails_as_unavailable()
    {
        using MockKafkaCluster cluster = MockKafkaCluster.Start(brokers: 1);
        cluster.CreateTopic("down-test", 1, 1);
        using KafkaClickLog log = KafkaClickLog.Open(new KafkaClickLogOptions { BootstrapServers = cluster.BootstrapServers, Topic = "down-test", AppendTimeout = TimeSpan.FromSeconds(2) });
        Assert.Equal(0, await log.AppendAsync(0, [Record("before", "ad")]));

        cluster.SetBrokerDown(-1);
        var failure = await Assert.ThrowsAsync<LogUnavailableException>(() => log.AppendAsync(0, [Record("during", "ad")]));
        Assert.Contains("Kafka did not acknowledge", failure.Message);
    }

    private byte[] Record(string clickId, string adId) =>
        ClickCodec.Encode(new Click { ClickId = clickId, AdId = adId, AdvertiserId = "adv", UserId = "u-" + clickId, TimestampMs = _nowMs, ReceivedMs = _nowMs });

    private async Task AppendClicksAsync(KafkaClickLog log, int from, int count)
    {
        var perPartition = new List<byte[]>[Partitions];
        for (int i = from; i < from + count; i++)
        {
            string ad = $"ad{i % 10}";
            (perPartition[Partitioner.PartitionOf(ad, Partitions)] ??= new()).Add(Record($"k{i}", ad));
        }

        await Task.WhenAll(Enumerable.Range(0, Partitions).Where(p => perPartition[p] is not null).Select(p => log.AppendAsync(p, perPartition[p])));
    }

    private static async Task RunUntilCaughtUpAsync(KafkaClickLog log, DuckDbStore store)
    {
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var pipeline = new Pipeline(log, store, new AggregatorOptions(), new ProcessorOptions { CommitIntervalMs = 50 }, (_, exception) => failures.Enqueue(exception));
        pipeline.Start();
        await Poll.UntilAsync(() => pipeline.IsCaughtUp() || !failures.IsEmpty, s_deadline, () => $"the processors to count every durable click (processed {pipeline.Processed} of {pipeline.Ingested})");
        pipeline.Stop();
        Assert.Empty(failures);
    }

    private static List<byte[]> ReadAll(KafkaClickLog log, int partition, long from, int end)
    {
        using ILogReader reader = log.OpenReader(partition, from);
        var batch = new LogReadBatch(16);
        var read = new List<byte[]>();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (reader.Position < end && deadline.Elapsed < s_deadline)
        {
            int count = reader.Read(batch);
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(from + read.Count, batch.FirstPosition + i);
                read.Add(batch[i].ToArray());
            }
        }

        return read;
    }
}

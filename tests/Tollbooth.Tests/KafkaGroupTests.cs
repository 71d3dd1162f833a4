// Goal (issue 17): processors on the Kafka log share its partitions as one consumer group, and a member leaving
// moves its partitions to the other without a click lost or counted twice: the revoked partitions commit and stop,
// the new owner claims them in the store and resumes from their checkpoints. Method: `tollbooth dev-kafka` in its
// own process; two pipelines in this process, each with its own group membership, over one real DuckDB store;
// clicks appended before and after the change; the group's assignments and the lag polled with deadlines.
using Tollbooth.Core;
using Tollbooth.Kafka;
using Tollbooth.Processing;
using Tollbooth.Store;

namespace Tollbooth.Tests;

public sealed class KafkaGroupTests : IDisposable
{
    private const int Partitions = 4;
    private const string Topic = "group-test";
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan s_sessionTimeout = TimeSpan.FromSeconds(6);

    private readonly string _directory = TollboothProcess.NewDataDirectory();
    private readonly long _nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private readonly System.Collections.Concurrent.ConcurrentQueue<Exception> _failures = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _notes = new();

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Partitions_move_to_the_remaining_member_when_one_leaves_and_every_click_is_counted_once()
    {
        using var kafka = DevKafkaProcess.Start("--topic", Topic, "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using KafkaClickLog log = KafkaClickLog.Open(new KafkaClickLogOptions { BootstrapServers = kafka.BootstrapServers, Topic = Topic });
        using DuckDbStore store = DuckDbStore.Open(Path.Combine(_directory, "tollbooth.duckdb"), rollInBackground: false);
        using Pipeline first = NewPipeline(log, store);
        using Pipeline second = NewPipeline(log, store);

        using (var firstMember = new KafkaGroupMembership(kafka.BootstrapServers, Topic, "processors", first, s_sessionTimeout, _notes.Enqueue))
        using (var secondMember = new KafkaGroupMembership(kafka.BootstrapServers, Topic, "processors", second, s_sessionTimeout, _notes.Enqueue))
        {
            await Poll.UntilAsync(() => first.Processors.Count > 0 && second.Processors.Count > 0 && first.Processors.Count + second.Processors.Count == Partitions, s_deadline, Described(first, second, "the group to share the partitions"));
            Assert.Empty(first.Processors.Select(p => p.Partition).Intersect(second.Processors.Select(p => p.Partition)));
            await AppendClicksAsync(log, 0, 800);
            await Poll.UntilAsync(() => first.IsCaughtUp() && second.IsCaughtUp(), s_deadline, Described(first, second, "both members to count what they own"));

            // The first member leaves the group; the second gets its partitions, and clicks keep coming meanwhile.
            Task appending = AppendClicksAsync(log, 800, 400);
            firstMember.Dispose();
            await appending;
            await Poll.UntilAsync(() => first.Processors.Count == 0 && second.Processors.Count == Partitions && second.IsCaughtUp(), s_deadline, Described(first, second, "the second member to own and count every partition"));
        }

        Assert.Empty(_failures);
        IReadOnlyList<(int Partition, WindowRow Row)> rows = store.ReadAllRows();
        Assert.Equal(1_200, rows.Sum(r => r.Row.Clicks));
        Assert.Equal(0, rows.Sum(r => r.Row.DuplicateClicks));
        for (int partition = 0; partition < Partitions; partition++)
        {
            Assert.Equal(log.DurableEnd(partition), store.ReadCheckpoint(partition).NextPosition);
        }
    }

    private Pipeline NewPipeline(KafkaClickLog log, DuckDbStore store)
    {
        var pipeline = new Pipeline(log, store, new AggregatorOptions(), new ProcessorOptions { CommitIntervalMs = 50, Warn = _notes.Enqueue }, (_, exception) => _failures.Enqueue(exception), partitions: []);
        pipeline.Start();
        return pipeline;
    }

    private Func<string> Described(Pipeline first, Pipeline second, string what) => () =>
        $"{what}: first owns [{string.Join(",", first.Processors.Select(p => p.Partition))}], second owns [{string.Join(",", second.Processors.Select(p => p.Partition))}]; notes:\n{string.Join("\n", _notes)}\nfailures:\n{string.Join("\n", _failures)}";

    private async Task AppendClicksAsync(KafkaClickLog log, int from, int count)
    {
        var perPartition = new List<byte[]>[Partitions];
        for (int i = from; i < from + count; i++)
        {
            string ad = $"ad{i % 12}";
            var click = new Click { ClickId = $"g{i}", AdId = ad, AdvertiserId = "adv", UserId = $"u{i}", TimestampMs = _nowMs, ReceivedMs = _nowMs };
            (perPartition[Partitioner.PartitionOf(ad, Partitions)] ??= new()).Add(ClickCodec.Encode(click));
        }

        await Task.WhenAll(Enumerable.Range(0, Partitions).Where(p => perPartition[p] is not null).Select(p => log.AppendAsync(p, perPartition[p])));
    }
}

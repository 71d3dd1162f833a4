using System.Runtime.InteropServices;
using Tollbooth.Core;
using Tollbooth.Kafka;
using Tollbooth.Naive;
using Tollbooth.Postgres;
using Tollbooth.Processing;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth serve --role process --log kafka://HOST:PORT,.../TOPIC --store postgres://...</c>: one process member
/// of a cluster (issue 17). It joins the topic's consumer group <see cref="GroupId"/>; each partition the group gives
/// it gets a processor that claims the partition in PostgreSQL (fencing any earlier owner), resumes from the stored
/// checkpoint (re-reading the partition before it to rebuild the dedup index and rate counters, I4) and commits rows
/// and position together (I3). SIGTERM leaves the group (the partitions commit and move) and exits 0; a processor
/// failure exits 1, and the group moves its partitions. No HTTP: ingest and query members are not built yet.
/// </summary>
internal static class ProcessMemberCommand
{
    /// <summary>The consumer group every process member of a cluster joins.</summary>
    public const string GroupId = "tollbooth-processors";

    public static async Task<int> RunAsync(TollboothSettings settings)
    {
        (string bootstrapServers, string topic, string connectionString) = Locations(settings);
        using var stopped = new CancellationTokenSource();
        int exitCode = 0;
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        using KafkaClickLog log = KafkaClickLog.Open(new KafkaClickLogOptions { BootstrapServers = bootstrapServers, Topic = topic });
        using PostgresPartitionStore store = PostgresPartitionStore.Open(connectionString);
        var options = settings.ToProcessorOptions(dedupSnapshotDirectory: null, Warn);
        using var pipeline = new Pipeline(log, store, settings.ToAggregatorOptions(), options, (partition, exception) =>
        {
            Console.Error.WriteLine($"error: partition {partition} stopped: {exception.Message}");
            exitCode = 1;
            stopped.Cancel();
        }, partitions: []);
        pipeline.Start();
        using (var membership = new KafkaGroupMembership(bootstrapServers, topic, GroupId, pipeline, TimeSpan.FromMilliseconds(settings.Processing.GroupSessionTimeoutMs), Note))
        {
            Console.WriteLine($"processing topic {topic} ({log.PartitionCount} partitions) as a member of consumer group {GroupId}");
            Console.Out.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, stopped.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        pipeline.Stop();
        Console.WriteLine($"stopped: left consumer group {GroupId}");
        return exitCode;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopped.Cancel();
        }
    }

    private static (string BootstrapServers, string Topic, string ConnectionString) Locations(TollboothSettings settings)
    {
        try
        {
            (string servers, string topic) = KafkaUrl.Parse(settings.ClusterLog!);
            return (servers, topic, PostgresUrl.ToConnectionString(settings.Store!));
        }
        catch (ArgumentException exception)
        {
            throw new SettingsException(exception.Message);
        }
    }

    private static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");

    private static void Note(string message) => Console.WriteLine(message);
}

using System.Globalization;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Tollbooth.Kafka;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth dev-kafka [--brokers 3] [--topic clicks] [--partitions 8]</c>: librdkafka's Kafka-protocol cluster in
/// this process, with the topic made, for trying a cluster on one machine and for tests (API.md, "A cluster"). Prints
/// one line <c>bootstrap HOST:PORT,...</c> once the topic answers metadata requests, then runs until SIGTERM or SIGINT.
/// </summary>
internal static class DevKafkaCommand
{
    private static readonly TimeSpan s_metadataTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(Dictionary<string, string> flags)
    {
        int brokers = Count(flags, "brokers", 3, 32);
        int partitions = Count(flags, "partitions", 8, 1024);
        string topic = flags.Remove("topic", out string? named) ? named : "clicks";
        if (topic.Length is 0 or > 249 || topic is "." or ".." || !topic.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new SettingsException($"--topic '{topic}' is not a Kafka topic name: use 1 to 249 letters, digits, '.', '_' or '-'.");
        }

        if (flags.Count > 0)
        {
            throw new SettingsException($"dev-kafka takes --brokers, --topic and --partitions only, not --{flags.Keys.First()}.");
        }

        using var stopped = new CancellationTokenSource();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        using MockKafkaCluster cluster = MockKafkaCluster.Start(brokers);
        cluster.CreateTopic(topic, partitions, Math.Min(brokers, 3));
        WaitForTopic(cluster.BootstrapServers, topic, partitions);
        Console.WriteLine($"bootstrap {cluster.BootstrapServers}");
        Console.WriteLine($"topic {topic}: {partitions} partitions on {brokers} brokers (librdkafka's mock cluster, for development and tests only); SIGTERM stops it");
        Console.Out.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, stopped.Token);
        }
        catch (OperationCanceledException)
        {
        }

        Console.WriteLine("stopped");
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopped.Cancel();
        }
    }

    private static int Count(Dictionary<string, string> flags, string name, int defaultValue, int max)
    {
        if (!flags.Remove(name, out string? text))
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= 1 && value <= max
            ? value
            : throw new SettingsException($"--{name} must be a whole number from 1 to {max}, not '{text}'.");
    }

    // The brokers listen as soon as the cluster exists; this waits until a client sees the topic with all its partitions.
    private static void WaitForTopic(string bootstrapServers, string topic, int partitions)
    {
        using IAdminClient admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers })
            .SetLogHandler((_, _) => { })
            .Build();
        Metadata metadata = admin.GetMetadata(topic, s_metadataTimeout);
        TopicMetadata? found = metadata.Topics.Find(t => t.Topic == topic);
        if (found is null || found.Error.IsError || found.Partitions.Count != partitions)
        {
            throw new InvalidOperationException($"The mock cluster does not show topic {topic} with {partitions} partitions ({found?.Error.Reason ?? "no such topic"}).");
        }
    }
}

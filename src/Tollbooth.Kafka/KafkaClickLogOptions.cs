namespace Tollbooth.Kafka;

/// <summary>Where the click log lives on Kafka, and how long an append may wait for its acknowledgement.</summary>
public sealed class KafkaClickLogOptions
{
    /// <summary>The brokers, <c>HOST:PORT,...</c>.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The topic: its partitions are the log's partitions.</summary>
    public required string Topic { get; init; }

    /// <summary>How long an append waits for every broker in sync to acknowledge it (acks=all) before it is a 503.</summary>
    public TimeSpan AppendTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long <see cref="KafkaClickLog.DurableEnd"/> may serve a partition's high watermark from memory.</summary>
    public TimeSpan WatermarkCacheTime { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a metadata or watermark request may take before the call fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

using Confluent.Kafka;
using Tollbooth.Processing;

namespace Tollbooth.Kafka;

/// <summary>
/// A process member's place in the processors' consumer group (issue 17): Kafka's group protocol (cooperative-sticky)
/// decides which member owns which partition, and this hands the decisions to the <see cref="Pipeline"/>: an assigned
/// partition gets a processor (which claims it in the store, fencing any earlier owner), a revoked one commits and
/// stops, a lost one (this member was too slow to hear of the move) stops, its late commit refused by the fence. The
/// group's consumer reads nothing itself: its partitions are paused, and each processor reads with a reader of its
/// own. Offsets are never committed to Kafka; the store's checkpoint is where a partition resumes (I3).
/// </summary>
public sealed class KafkaGroupMembership : IDisposable
{
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(100);

    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly Pipeline _pipeline;
    private readonly Action<string> _note;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private int _disposed;

    /// <param name="sessionTimeout">How long the group waits for a silent member (killed, paused) before it moves its partitions.</param>
    public KafkaGroupMembership(string bootstrapServers, string topic, string groupId, Pipeline pipeline, TimeSpan sessionTimeout, Action<string> note)
    {
        _pipeline = pipeline;
        _note = note;
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            SessionTimeoutMs = (int)sessionTimeout.TotalMilliseconds,
            HeartbeatIntervalMs = Math.Max(100, (int)sessionTimeout.TotalMilliseconds / 4),
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Latest,
        };
        _consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, message) =>
            {
                if (message.Level <= SyslogLevel.Error)
                {
                    note($"kafka group: {message.Message}");
                }
            })
            .SetPartitionsAssignedHandler((_, partitions) => Assigned(partitions))
            .SetPartitionsRevokedHandler((_, partitions) => Revoked(partitions, "revoked"))
            .SetPartitionsLostHandler((_, partitions) => Revoked(partitions, "lost"))
            .Build();
        _consumer.Subscribe(topic);
        _thread = new Thread(Poll) { IsBackground = true, Name = "tollbooth-kafka-group" };
        _thread.Start();
    }

    /// <summary>Leaves the group: Kafka revokes this member's partitions (each commits and stops) and gives them to the others.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stop.Cancel();
        _thread.Join();
        _consumer.Close();
        _consumer.Dispose();
        _stop.Dispose();
    }

    // Group membership lives on polls: heartbeats are librdkafka's, but a member that stops polling leaves the group.
    private void Poll()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                _consumer.Consume(s_poll);
            }
            catch (ConsumeException exception)
            {
                _note($"kafka group: {exception.Error.Reason}");
            }

            List<TopicPartition> assigned = _consumer.Assignment;
            if (assigned.Count > 0)
            {
                _consumer.Pause(assigned);
            }
        }
    }

    private void Assigned(List<TopicPartition> partitions)
    {
        foreach (TopicPartition partition in partitions)
        {
            if (_pipeline.Assign(partition.Partition.Value))
            {
                _note($"partition {partition.Partition.Value} assigned to this member");
            }
        }
    }

    private void Revoked(List<TopicPartitionOffset> partitions, string how)
    {
        foreach (TopicPartitionOffset partition in partitions)
        {
            if (_pipeline.Revoke(partition.Partition.Value))
            {
                _note($"partition {partition.Partition.Value} {how} from this member");
            }
        }
    }
}

using Confluent.Kafka;
using Tollbooth.Log;

namespace Tollbooth.Kafka;

/// <summary>
/// Reads one topic partition in offset order for a processor, from a consumer of its own that is assigned the
/// partition at the position asked (no consumer group: the processors' group only decides who owns a partition).
/// A read returns 0 only when no durable record is there (the log's contract): below the high watermark it waits for
/// the first record's fetch, then takes only what was already fetched.
/// </summary>
internal sealed class KafkaLogReader : ILogReader
{
    private static readonly TimeSpan s_idleWait = TimeSpan.FromMilliseconds(10);

    private readonly KafkaClickLog _log;
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly int _partition;
    private ConsumeResult<byte[], byte[]>? _held;

    public KafkaLogReader(KafkaClickLog log, int partition, long position)
    {
        _log = log;
        _partition = partition;
        Position = position;
        _consumer = log.NewReaderConsumer();
        _consumer.Assign(new TopicPartitionOffset(log.Topic, partition, position));
    }

    public long Position { get; private set; }

    public int Read(LogReadBatch batch)
    {
        batch.Reset(Position);
        int count = 0;
        while (count < batch.RecordsMax)
        {
            ConsumeResult<byte[], byte[]>? result = _held ?? Next(count == 0);
            _held = null;
            if (result is null)
            {
                break;
            }

            if (result.Offset.Value != Position)
            {
                throw new InvalidDataException(
                    $"Kafka gave offset {result.Offset.Value} of partition {_partition} where {Position} was due: the topic skips offsets (transactions or compaction on it?), which the click log does not allow.");
            }

            byte[] record = result.Message.Value;
            if (!batch.TryAdd(record.Length, out Span<byte> destination))
            {
                _held = result;
                break;
            }

            record.CopyTo(destination);
            Position++;
            count++;
        }

        return count;
    }

    public void Dispose()
    {
        _consumer.Close();
        _consumer.Dispose();
    }

    // The first record of a read waits for its fetch when it is known durable (briefly otherwise); the rest are taken
    // only when already fetched.
    private ConsumeResult<byte[], byte[]>? Next(bool first)
    {
        TimeSpan wait = !first ? TimeSpan.Zero : Position < _log.DurableEnd(_partition) ? _log.RequestTimeout : s_idleWait;
        try
        {
            ConsumeResult<byte[], byte[]>? result = _consumer.Consume(wait);
            if (result is null && wait == _log.RequestTimeout)
            {
                throw new TimeoutException($"Kafka gave no record of partition {_partition} at offset {Position} within {wait.TotalSeconds:0} s, below its high watermark.");
            }

            return result;
        }
        catch (ConsumeException exception) when (exception.Error.Code == ErrorCode.OffsetOutOfRange)
        {
            throw new LogRecordsDeletedException(_partition, Position, _log.FirstPosition(_partition));
        }
    }
}

using System.Diagnostics;
using Confluent.Kafka;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Kafka;

/// <summary>
/// The click log on a Kafka topic (issue 17): a log partition is a topic partition and a position its offset. Appends
/// are produced idempotently with acks=all, keyed by ad_id, into the partition Tollbooth's own hash chooses (so every
/// member agrees without Kafka's partitioner); an append completes once Kafka acknowledged all of it (I1), and a
/// refused or timed-out one faults with <see cref="LogUnavailableException"/> (answer 503; a resend counts once).
/// Durable means acknowledged by every broker in sync: what a reader is given is at or below the high watermark.
/// Readers never reset an offset: a position no longer in the topic stops the partition with
/// <see cref="LogRecordsDeletedException"/>, and offsets must follow one another (no transactions or compaction on
/// this topic), or the reader stops and says so. Offsets committed to Kafka would be hints only; the store's
/// checkpoint is the truth (I3), so <see cref="ReleaseBelow"/> only records how far a partition may be forgotten.
/// </summary>
public sealed class KafkaClickLog : IClickLog
{
    private readonly KafkaClickLogOptions _options;
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly IConsumer<byte[], byte[]> _watermarks;
    private readonly object _watermarkLock = new();
    private readonly (long High, long At)[] _highWatermarks;
    private readonly long[] _released;

    private KafkaClickLog(KafkaClickLogOptions options, int partitions, IProducer<byte[], byte[]> producer, IConsumer<byte[], byte[]> watermarks)
    {
        _options = options;
        PartitionCount = partitions;
        _producer = producer;
        _watermarks = watermarks;
        _highWatermarks = new (long, long)[partitions];
        Array.Fill(_highWatermarks, (0L, long.MinValue));
        _released = new long[partitions];
    }

    public int PartitionCount { get; }

    /// <summary>Connects to the topic, which must exist: its partition count is the log's.</summary>
    public static KafkaClickLog Open(KafkaClickLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int partitions = PartitionsOf(options);
        var producerConfig = new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 2,
            MessageTimeoutMs = (int)options.AppendTimeout.TotalMilliseconds,
        };
        IProducer<byte[], byte[]> producer = new ProducerBuilder<byte[], byte[]>(producerConfig).SetLogHandler(Quiet).Build();
        IConsumer<byte[], byte[]> watermarks = NewConsumer(options);
        return new KafkaClickLog(options, partitions, producer, watermarks);
    }

    public Task<long> AppendAsync(int partition, IReadOnlyList<byte[]> payloads)
    {
        var append = new Append(payloads.Count);
        for (int i = 0; i < payloads.Count; i++)
        {
            Produce(partition, payloads[i], append, i);
        }

        return append.Task;
    }

    public Task<long>[] AppendAll(IReadOnlyList<PartitionBatch> batches)
    {
        var appended = new Task<long>[batches.Count];
        for (int b = 0; b < batches.Count; b++)
        {
            appended[b] = AppendAsync(batches[b].Partition, batches[b].Payloads);
        }

        return appended;
    }

    public Task<long>[] AppendRecords(ReadOnlySpan<PartitionRecords> batches)
    {
        var appended = new Task<long>[batches.Length];
        for (int b = 0; b < batches.Length; b++)
        {
            ReadOnlySpan<byte> records = batches[b].Records.Span;
            ReadOnlySpan<int> lengths = batches[b].Lengths.Span;
            var append = new Append(lengths.Length);
            for (int i = 0; i < lengths.Length; i++)
            {
                // librdkafka copies a message's bytes when it is produced; the array is the client's to give.
                Produce(batches[b].Partition, records[..lengths[i]].ToArray(), append, i);
                records = records[lengths[i]..];
            }

            appended[b] = append.Task;
        }

        return appended;
    }

    /// <summary>The partition's high watermark: the offset after the last record every broker in sync holds.</summary>
    public long DurableEnd(int partition)
    {
        long now = Stopwatch.GetTimestamp();
        lock (_watermarkLock)
        {
            (long high, long at) = _highWatermarks[partition];
            if (at != long.MinValue && Stopwatch.GetElapsedTime(at, now) < _options.WatermarkCacheTime)
            {
                return high;
            }

            WatermarkOffsets offsets = _watermarks.QueryWatermarkOffsets(new TopicPartition(_options.Topic, partition), _options.RequestTimeout);
            _highWatermarks[partition] = (offsets.High.Value, now);
            return offsets.High.Value;
        }
    }

    public async Task WaitForDurableAsync(int partition, long position, CancellationToken cancellationToken)
    {
        while (DurableEnd(partition) <= position)
        {
            await Task.Delay(_options.WatermarkCacheTime, cancellationToken);
        }
    }

    public ILogReader OpenReader(int partition, long position)
    {
        long first = FirstPosition(partition);
        if (position < first)
        {
            throw new LogRecordsDeletedException(partition, position, first);
        }

        return new KafkaLogReader(this, partition, position);
    }

    /// <summary>The partition's low watermark: the first offset the topic still holds.</summary>
    public long FirstPosition(int partition)
    {
        lock (_watermarkLock)
        {
            return _watermarks.QueryWatermarkOffsets(new TopicPartition(_options.Topic, partition), _options.RequestTimeout).Low.Value;
        }
    }

    /// <summary>Records how far the partition may be forgotten; Kafka's own retention decides what it deletes.</summary>
    public void ReleaseBelow(int partition, long position)
    {
        lock (_watermarkLock)
        {
            _released[partition] = Math.Max(_released[partition], position);
        }
    }

    public void Dispose()
    {
        _producer.Flush(_options.AppendTimeout);
        _producer.Dispose();
        _watermarks.Close();
        _watermarks.Dispose();
    }

    private void Produce(int partition, byte[] record, Append append, int index)
    {
        var message = new Message<byte[], byte[]> { Key = new ClickView(record).AdId.ToArray(), Value = record };
        try
        {
            _producer.Produce(new TopicPartition(_options.Topic, partition), message, report => append.Delivered(index, report));
        }
        catch (ProduceException<byte[], byte[]> exception)
        {
            append.Failed(exception.Error);
        }
    }

    private static int PartitionsOf(KafkaClickLogOptions options)
    {
        using IAdminClient admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = options.BootstrapServers }).SetLogHandler(Quiet).Build();
        Metadata metadata = admin.GetMetadata(options.Topic, options.RequestTimeout);
        TopicMetadata? topic = metadata.Topics.Find(t => t.Topic == options.Topic);
        if (topic is null || topic.Error.IsError || topic.Partitions.Count == 0)
        {
            throw new InvalidOperationException($"Kafka topic {options.Topic} at {options.BootstrapServers} is not there ({topic?.Error.Reason ?? "no such topic"}): create it with the partitions the log should have.");
        }

        return topic.Partitions.Count;
    }

    internal IConsumer<byte[], byte[]> NewReaderConsumer() => NewConsumer(_options);

    internal string Topic => _options.Topic;

    internal TimeSpan RequestTimeout => _options.RequestTimeout;

    // Readers and the watermark client assign partitions themselves and never commit: no group protocol, and an offset
    // out of range is an error, never a silent reset.
    private static IConsumer<byte[], byte[]> NewConsumer(KafkaClickLogOptions options) =>
        new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = "tollbooth-log-reader",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Error,
            IsolationLevel = IsolationLevel.ReadCommitted,
            EnablePartitionEof = false,
        }).SetLogHandler(Quiet).Build();

    private static void Quiet<TClient>(TClient client, LogMessage message)
    {
        if (message.Level <= SyslogLevel.Error)
        {
            Console.Error.WriteLine($"kafka: {message.Facility}: {message.Message}");
        }
    }

    /// <summary>One append's records: it completes with the first record's offset once every one is acknowledged.</summary>
    private sealed class Append
    {
        private readonly TaskCompletionSource<long> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _left;
        private long _first = -1;

        public Append(int records)
        {
            _left = records;
            if (records == 0)
            {
                _completion.SetResult(-1);
            }
        }

        public Task<long> Task => _completion.Task;

        public void Delivered(int index, DeliveryReport<byte[], byte[]> report)
        {
            if (report.Error.IsError || report.Status != PersistenceStatus.Persisted)
            {
                Failed(report.Error);
                return;
            }

            if (index == 0)
            {
                Interlocked.Exchange(ref _first, report.Offset.Value);
            }

            if (Interlocked.Decrement(ref _left) == 0)
            {
                _completion.TrySetResult(Interlocked.Read(ref _first));
            }
        }

        public void Failed(Error error) =>
            _completion.TrySetException(new LogUnavailableException($"Kafka did not acknowledge every click of this append ({error.Reason}): nothing of it is promised stored."));
    }
}

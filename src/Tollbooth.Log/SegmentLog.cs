using System.Diagnostics.CodeAnalysis;

namespace Tollbooth.Log;

/// <summary>
/// The embedded click log: per partition a directory of segment files of CRC32C-framed records
/// (<c>{Directory}/p{NN}/{firstPosition:D20}.seg</c>). Appends are copied into the partition's pending
/// buffer and committed by one flusher thread in groups: pwrite per partition, one fdatasync per written
/// file, then the appends' tasks complete (I1: durable before ack). A full disk refuses the batch it hit and the
/// log goes on; any other write error, and any fsync error, is fail-stop.
/// </summary>
public sealed partial class SegmentLog : IClickLog
{
    private readonly SegmentLogOptions _options;
    private readonly LogPartition[] _partitions;
    private readonly ManualResetEventSlim _work = new(false);
    private readonly Thread? _flusher;
    private long _pendingBytes;
    private long _fsyncCount;
    private int _saturationWarned;
    private bool _stopping;
    private int _disposed;
    private LogFailedException? _failure;

    private SegmentLog(SegmentLogOptions options, LogPartition[] partitions, bool withFlusher)
    {
        _options = options;
        _partitions = partitions;
        _flusher = withFlusher ? new Thread(FlushLoop) { IsBackground = true, Name = "tollbooth-log-flusher" } : null;
    }

    public int PartitionCount => _partitions.Length;

    /// <summary>The number of data fdatasyncs done so far (directory fsyncs not counted).</summary>
    public long FsyncCount => Interlocked.Read(ref _fsyncCount);

    /// <summary>Framed bytes appended but not yet written, over all partitions (at most PendingBytesMax).</summary>
    public long PendingBytes => Volatile.Read(ref _pendingBytes);

    /// <summary>True once a write or fsync failed: the log takes no more appends (fail-stop).</summary>
    public bool IsFailed => Volatile.Read(ref _failure) is not null;

    /// <summary>
    /// Opens (creating if needed) the log in <see cref="SegmentLogOptions.Directory"/>, recovering every partition:
    /// a torn tail of a partition's last segment is cut with a warning; damage anywhere else throws
    /// <see cref="CorruptLogException"/>.
    /// </summary>
    public static SegmentLog Open(SegmentLogOptions options)
    {
        SegmentLog log = Recover(options, withFlusher: true);
        log._flusher!.Start();
        log.StartRetention();
        return log;
    }

    /// <summary>
    /// Test hook: opens the log like <see cref="Open"/> but without its flusher and retention threads; nothing is
    /// committed until <see cref="CommitPendingForTests"/> is called, and nothing deleted until
    /// <see cref="DeleteReleasedSegments"/> is, so a seeded simulation replays exactly.
    /// </summary>
    internal static SegmentLog OpenWithoutFlusherForTests(SegmentLogOptions options)
    {
        return Recover(options, withFlusher: false);
    }

    private static SegmentLog Recover(SegmentLogOptions options, bool withFlusher)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string root = Path.GetFullPath(options.Directory);
        PartitionRecovery.EnsureDirectory(options.FileSystem, root);
        var partitions = new LogPartition[options.PartitionCount];
        try
        {
            for (int i = 0; i < partitions.Length; i++)
            {
                string directory = Segment.PartitionDirectory(root, i);
                RecoveredPartition recovered = PartitionRecovery.Recover(directory, options);
                partitions[i] = new LogPartition(i, directory, options, recovered);
            }
        }
        catch
        {
            foreach (LogPartition? partition in partitions)
            {
                partition?.Dispose();
            }

            throw;
        }

        return new SegmentLog(options, partitions, withFlusher);
    }

    /// <summary>
    /// Copies the payloads into the partition's next group commit; the task completes with the first record's
    /// position once all are durable. Throws <see cref="ArgumentException"/> for an empty batch, an empty payload or
    /// one above RecordBytesMax, and for a batch that alone is above PendingBytesMax (it could never be taken);
    /// <see cref="LogSaturatedException"/> when the pending bytes of the whole log would go above PendingBytesMax;
    /// <see cref="LogFailedException"/> once the log has failed.
    /// </summary>
    public Task<long> AppendAsync(int partition, IReadOnlyList<byte[]> payloads)
    {
        LogPartition target = PartitionAt(partition);
        int frameBytes = FrameBytesOf(payloads);
        var completion = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (target.SyncRoot)
        {
            ThrowIfClosed();
            ReservePendingBytes(frameBytes);
            target.AppendLocked(payloads, frameBytes, completion);
        }

        _work.Set();
        return completion.Task;
    }

    /// <summary>
    /// Appends to several partitions as one request: the pending bytes of all the batches are reserved at once, so
    /// either every batch goes into its partition's next group commit or, with <see cref="LogSaturatedException"/>,
    /// none does. Returns one task per batch, in order, as <see cref="AppendAsync"/> would. Each partition's group
    /// commit is still its own fsync: a disk that fills up between them can refuse one batch and store another.
    /// </summary>
    public Task<long>[] AppendAll(IReadOnlyList<PartitionBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        return batches.Count == 0 ? [] : AppendAllOrNone(new PayloadBatches(batches));
    }

    /// <summary>
    /// <see cref="AppendAll"/> for records back to back in one buffer per partition: the same all-or-none reservation
    /// of pending bytes, the same argument checks per record, one task per batch completing once it is durable. Each
    /// record is copied once, from the caller's buffer into the partition's pending group commit.
    /// </summary>
    public Task<long>[] AppendRecords(ReadOnlySpan<PartitionRecords> batches)
    {
        return batches.IsEmpty ? [] : AppendAllOrNone(new RecordBatches(batches));
    }

    /// <summary>
    /// The one loop of <see cref="AppendAll"/> and <see cref="AppendRecords"/>: checks every batch, reserves the pending
    /// bytes of all of them at once, then puts each into its partition's next group commit. Generic over the batches'
    /// form (a struct, so the JIT specialises it and nothing is boxed); allocates the tasks and their array only.
    /// </summary>
    private Task<long>[] AppendAllOrNone<TBatches>(scoped TBatches batches)
        where TBatches : IAppendBatches, allows ref struct
    {
        int count = batches.Count;
        Span<int> frameBytes = count <= 256 ? stackalloc int[count] : new int[count];
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            _ = PartitionAt(batches.PartitionOf(i));
            frameBytes[i] = batches.FrameBytesOf(this, i);
            total += frameBytes[i];
        }

        if (total > _options.PendingBytesMax)
        {
            ThrowArgument($"Appends of {total} framed bytes are above PendingBytesMax ({_options.PendingBytesMax}) and can never be taken; split them.");
        }

        ThrowIfClosed();
        ReservePendingBytes(total);
        var appended = new Task<long>[count];
        int next = 0;
        try
        {
            for (; next < count; next++)
            {
                LogPartition target = PartitionAt(batches.PartitionOf(next));
                var completion = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (target.SyncRoot)
                {
                    ThrowIfClosed();
                    batches.AppendLocked(target, next, frameBytes[next], completion);
                }

                appended[next] = completion.Task;
            }
        }
        catch
        {
            // Failed or stopping between two partitions (nothing is acknowledged then): the batches not taken give back their bytes.
            long notTaken = 0;
            for (int i = next; i < count; i++)
            {
                notTaken += frameBytes[i];
            }

            ReleasePendingBytes(notTaken);
            throw;
        }
        finally
        {
            _work.Set();
        }

        return appended;
    }

    public long DurableEnd(int partition)
    {
        return PartitionAt(partition).DurableEnd;
    }

    public Task WaitForDurableAsync(int partition, long position, CancellationToken cancellationToken)
    {
        LogPartition target = PartitionAt(partition);
        if (target.DurableEnd > position)
        {
            return Task.CompletedTask;
        }

        return WaitForDurableSlowAsync(target, position, cancellationToken);
    }

    /// <summary>
    /// A reader of the partition's durable records from <paramref name="position"/>, with its own file handles.
    /// Throws <see cref="LogRecordsDeletedException"/> when retention deleted the records there (the position is
    /// below <see cref="FirstPosition"/>: never skipped silently), and <see cref="ArgumentOutOfRangeException"/> when
    /// it is negative or beyond the durable end.
    /// </summary>
    public ILogReader OpenReader(int partition, long position)
    {
        LogPartition target = PartitionAt(partition);
        long durableEnd = target.DurableEnd;
        long start = target.FirstPosition;
        if (position >= 0 && position < start)
        {
            throw new LogRecordsDeletedException(partition, position, start);
        }

        if (position < start || position > durableEnd)
        {
            throw new ArgumentOutOfRangeException(
                nameof(position),
                position,
                $"Partition {partition} holds durable positions {start} to {durableEnd} (exclusive); a reader can start from {start} to {durableEnd}.");
        }

        return new SegmentReader(target, position, _options.RecordBytesMax);
    }

    /// <summary>Commits what is pending (completing those appends), stops the flusher and closes the files.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _stopping, true);
        StopRetention();
        FlusherGate.Set();
        _work.Set();
        if (_flusher is not null)
        {
            _flusher.Join();
        }
        else
        {
            while (CommitPendingForTests())
            {
            }
        }

        var closed = new ObjectDisposedException(nameof(SegmentLog), "The click log was closed.");
        foreach (LogPartition partition in _partitions)
        {
            // After a clean stop nothing is pending: this only faults the durable waiters.
            partition.Fail(closed);
            partition.Dispose();
        }
    }

    private static async Task WaitForDurableSlowAsync(LogPartition partition, long position, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Read the signal before the end: the flusher moves the end first, then completes the signal.
            Task advanced = partition.DurableAdvanced;
            if (partition.DurableEnd > position)
            {
                return;
            }

            await advanced.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private LogPartition PartitionAt(int partition)
    {
        if ((uint)partition >= (uint)_partitions.Length)
        {
            ThrowPartitionOutOfRange(partition);
        }

        return _partitions[partition];
    }

    private int FrameBytesOf(IReadOnlyList<byte[]> payloads)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        if (payloads.Count == 0)
        {
            ThrowArgument("An append needs at least one record.");
        }

        long frameBytes = 0;
        for (int i = 0; i < payloads.Count; i++)
        {
            byte[]? payload = payloads[i];
            if (payload is null || payload.Length == 0 || payload.Length > _options.RecordBytesMax)
            {
                ThrowBadPayload(i, payload);
            }

            frameBytes += FrameHeader.Size + payload.Length;
        }

        if (frameBytes > _options.PendingBytesMax)
        {
            ThrowArgument(
                $"An append of {frameBytes} framed bytes is above PendingBytesMax ({_options.PendingBytesMax}) and can never be taken; split it.");
        }

        return (int)frameBytes;
    }

    private int FrameBytesOf(in PartitionRecords batch)
    {
        ReadOnlySpan<int> lengths = batch.Lengths.Span;
        if (lengths.IsEmpty)
        {
            ThrowArgument("An append needs at least one record.");
        }

        long frameBytes = 0;
        long recordBytes = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            if (lengths[i] <= 0 || lengths[i] > _options.RecordBytesMax)
            {
                ThrowBadLength(i, lengths[i]);
            }

            recordBytes += lengths[i];
            frameBytes += FrameHeader.Size + lengths[i];
        }

        if (recordBytes != batch.Records.Length)
        {
            ThrowArgument($"The record lengths add up to {recordBytes} bytes but the buffer holds {batch.Records.Length}; give one length per record.");
        }

        if (frameBytes > _options.PendingBytesMax)
        {
            ThrowArgument(
                $"An append of {frameBytes} framed bytes is above PendingBytesMax ({_options.PendingBytesMax}) and can never be taken; split it.");
        }

        return (int)frameBytes;
    }

    private void ThrowIfClosed()
    {
        LogFailedException? failure = Volatile.Read(ref _failure);
        if (failure is not null)
        {
            ThrowFailed(failure);
        }

        if (Volatile.Read(ref _stopping))
        {
            ThrowDisposed();
        }
    }

    /// <summary>
    /// Reserves room in the log-wide pending total (one limit for all partitions, so memory is bounded by
    /// PendingBytesMax whatever the partition count). Released when the flusher has written the bytes.
    /// </summary>
    private void ReservePendingBytes(long bytes)
    {
        long current = Volatile.Read(ref _pendingBytes);
        while (true)
        {
            if (current + bytes > _options.PendingBytesMax)
            {
                ThrowSaturated(current, bytes);
            }

            long seen = Interlocked.CompareExchange(ref _pendingBytes, current + bytes, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private void ReleasePendingBytes(long bytes)
    {
        long left = Interlocked.Add(ref _pendingBytes, -bytes);
        if (left <= _options.PendingBytesMax / 2)
        {
            Volatile.Write(ref _saturationWarned, 0);
        }
    }

    [DoesNotReturn]
    private void ThrowSaturated(long pending, long bytes)
    {
        string message =
            $"The click log has {pending} bytes waiting to be written and PendingBytesMax is {_options.PendingBytesMax}; " +
            $"an append of {bytes} bytes was refused. Retry shortly; if this persists the disk is slower than ingest.";
        if (Interlocked.Exchange(ref _saturationWarned, 1) == 0)
        {
            _options.Warn?.Invoke(message);
        }

        throw new LogSaturatedException(message);
    }

    [DoesNotReturn]
    private static void ThrowFailed(LogFailedException failure)
    {
        throw new LogFailedException(failure.Message, failure.InnerException);
    }

    [DoesNotReturn]
    private static void ThrowDisposed()
    {
        throw new ObjectDisposedException(nameof(SegmentLog), "The click log was closed.");
    }

    [DoesNotReturn]
    private void ThrowPartitionOutOfRange(int partition)
    {
        throw new ArgumentOutOfRangeException(nameof(partition), partition, $"The log has partitions 0 to {_partitions.Length - 1}.");
    }

    [DoesNotReturn]
    private void ThrowBadPayload(int index, byte[]? payload)
    {
        string what = payload is null ? "null" : $"{payload.Length} bytes";
        throw new ArgumentException($"Record {index} of the append is {what}; a record holds 1 to RecordBytesMax ({_options.RecordBytesMax}) bytes.", "payloads");
    }

    [DoesNotReturn]
    private void ThrowBadLength(int index, int length)
    {
        throw new ArgumentException($"Record {index} of the append is {length} bytes; a record holds 1 to RecordBytesMax ({_options.RecordBytesMax}) bytes.", "batches");
    }

    [DoesNotReturn]
    private static void ThrowArgument(string message)
    {
        throw new ArgumentException(message, "payloads");
    }
}

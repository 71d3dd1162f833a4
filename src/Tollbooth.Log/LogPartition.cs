using System.Diagnostics;

namespace Tollbooth.Log;

/// <summary>
/// One partition of <see cref="SegmentLog"/>: the pending buffer appends copy into (under <see cref="SyncRoot"/>),
/// the batch the flusher has taken from it, and the durable end with its waiters. Members named
/// <c>...Taken</c> are called by the flusher thread only.
/// </summary>
internal sealed class LogPartition : IDisposable
{
    private const int BufferBytesInitial = 64 << 10;

    private readonly PartitionWriter _writer;
    private byte[] _pending = new byte[BufferBytesInitial];
    private int _pendingLength;
    private List<PendingAppend> _appends = new();
    private long _nextPosition;
    private long _durableEnd;
    private Segment[] _segments;
    private long _released;
    private TaskCompletionSource _durableAdvanced = NewSignal();
    private int _rewinds;

    // Flusher-only: the batch being committed, and the buffers to swap in at the next take.
    private byte[] _spare = new byte[BufferBytesInitial];
    private List<PendingAppend> _spareAppends = new();
    private byte[] _taken = [];
    private int _takenLength;
    private List<PendingAppend> _takenAppends = new();
    private long _takenEnd;

    public LogPartition(int index, string directory, SegmentLogOptions options, RecoveredPartition recovered)
    {
        Index = index;
        Directory = directory;
        FileSystem = options.FileSystem;
        _writer = new PartitionWriter(options.FileSystem, directory, options.SegmentBytesMax, recovered, options.SegmentAgeMax, options.Time);
        _segments = recovered.Segments;
        _nextPosition = recovered.EndPosition;
        _durableEnd = recovered.EndPosition;
        _takenEnd = recovered.EndPosition;
    }

    public int Index { get; }

    public string Directory { get; }

    public ILogFileSystem FileSystem { get; }

    /// <summary>Guards the pending buffer, its appends and the next position.</summary>
    public Lock SyncRoot { get; } = new();

    public long DurableEnd => Volatile.Read(ref _durableEnd);

    /// <summary>The segments, oldest first; replaced (never changed) when a segment is added or deleted.</summary>
    public Segment[] Segments => Volatile.Read(ref _segments);

    /// <summary>Serializes the replacements of <see cref="Segments"/>: the flusher adds at the end, retention removes at the front.</summary>
    private Lock SegmentsRoot { get; } = new();

    /// <summary>The first position still held (the first segment's); below it, retention deleted the records.</summary>
    public long FirstPosition => Segments[0].FirstPosition;

    /// <summary>Nothing reads the positions below this again (<see cref="SegmentLog.ReleaseBelow"/>); only grows.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>Raises <see cref="Released"/> to <paramref name="position"/>; true when it moved.</summary>
    public bool Release(long position)
    {
        long current = Interlocked.Read(ref _released);
        while (position > current)
        {
            long seen = Interlocked.CompareExchange(ref _released, position, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>
    /// The oldest segment when every one of its records is below <see cref="Released"/> and it is not the active
    /// (last) one; else null. Its records end where the next segment starts.
    /// </summary>
    public Segment? ReleasedOldest()
    {
        Segment[] segments = Segments;
        return segments.Length >= 2 && segments[1].FirstPosition <= Released ? segments[0] : null;
    }

    /// <summary>
    /// Takes <paramref name="oldest"/> out of <see cref="Segments"/> before its file is unlinked, so no reader opened
    /// from now on can look for it; a reader that has it open keeps reading it (an unlinked file lives while open).
    /// </summary>
    public void DropOldest(Segment oldest)
    {
        lock (SegmentsRoot)
        {
            Segment[] segments = _segments;
            Debug.Assert(segments.Length >= 2 && ReferenceEquals(segments[0], oldest));
            Volatile.Write(ref _segments, segments[1..]);
        }
    }

    /// <summary>Completes the next time <see cref="DurableEnd"/> advances; faulted once the log has failed or closed.</summary>
    public Task DurableAdvanced => Volatile.Read(ref _durableAdvanced).Task;

    /// <summary>
    /// How many times a failed write was cut back from the active segment. Moves before any later durable end, so a
    /// reader that sees a new durable end and then the same count knows no bytes it buffered past the old end were
    /// replaced.
    /// </summary>
    public int Rewinds => Volatile.Read(ref _rewinds);

    /// <summary>The active segment's path, for messages.</summary>
    public string ActivePath => _writer.ActivePath;

    /// <summary>Frames the payloads into the pending buffer. The caller holds <see cref="SyncRoot"/>; returns the first position.</summary>
    public long AppendLocked(IReadOnlyList<byte[]> payloads, int frameBytes, TaskCompletionSource<long> completion)
    {
        Span<byte> destination = PendingSpace(frameBytes);
        for (int i = 0; i < payloads.Count; i++)
        {
            destination = WriteFrame(destination, payloads[i]);
        }

        Debug.Assert(destination.IsEmpty);
        return Appended(frameBytes, payloads.Count, completion);
    }

    /// <summary>
    /// Frames records lying back to back in <paramref name="records"/> (lengths in <paramref name="lengths"/>) into the
    /// pending buffer: one copy, straight from the caller's buffer. The caller holds <see cref="SyncRoot"/>.
    /// </summary>
    public long AppendRecordsLocked(ReadOnlySpan<byte> records, ReadOnlySpan<int> lengths, int frameBytes, TaskCompletionSource<long> completion)
    {
        Span<byte> destination = PendingSpace(frameBytes);
        foreach (int length in lengths)
        {
            destination = WriteFrame(destination, records[..length]);
            records = records[length..];
        }

        Debug.Assert(destination.IsEmpty);
        Debug.Assert(records.IsEmpty);
        return Appended(frameBytes, lengths.Length, completion);
    }

    /// <summary>Room for <paramref name="frameBytes"/> at the end of the pending buffer, grown if need be.</summary>
    private Span<byte> PendingSpace(int frameBytes)
    {
        EnsurePendingCapacity(_pendingLength + frameBytes);
        return _pending.AsSpan(_pendingLength, frameBytes);
    }

    /// <summary>Writes one frame (header, payload) at the start of <paramref name="destination"/>; returns the space after it.</summary>
    private static Span<byte> WriteFrame(Span<byte> destination, ReadOnlySpan<byte> payload)
    {
        FrameHeader.For(payload).Write(destination);
        payload.CopyTo(destination.Slice(FrameHeader.Size));
        return destination.Slice(FrameHeader.Size + payload.Length);
    }

    /// <summary>The framed records are in the pending buffer: they take the next positions and their append waits for the commit.</summary>
    private long Appended(int frameBytes, int records, TaskCompletionSource<long> completion)
    {
        long first = _nextPosition;
        _pendingLength += frameBytes;
        _nextPosition += records;
        _appends.Add(new PendingAppend(completion, first));
        return first;
    }

    /// <summary>Takes everything pending as the batch to commit; false when nothing is pending.</summary>
    public bool TakePending()
    {
        lock (SyncRoot)
        {
            if (_pendingLength == 0)
            {
                return false;
            }

            _taken = _pending;
            _takenLength = _pendingLength;
            _takenAppends = _appends;
            _takenEnd = _nextPosition;
            _pending = _spare;
            _pendingLength = 0;
            _appends = _spareAppends;
        }

        return true;
    }

    /// <summary>The framed bytes of the taken batch.</summary>
    public int TakenBytes => _takenLength;

    /// <summary>
    /// Writes the taken batch at the end of the active segment (rolling first if it is full). False when the disk is
    /// full: nothing of the batch is in the file, and the caller refuses it with <see cref="RefuseTaken"/>.
    /// </summary>
    public bool TryWriteTaken()
    {
        bool written = _writer.TryWrite(_taken.AsSpan(0, _takenLength), _takenEnd - _writer.WrittenEnd, out Segment? rolled);
        if (rolled is not null)
        {
            // Published before the durable end moves past the new segment's first position, so a reader that
            // sees that durable end also sees the segment. The lock is held for a copy only, never for I/O.
            lock (SegmentsRoot)
            {
                Segment[] segments = _segments;
                var grown = new Segment[segments.Length + 1];
                segments.CopyTo(grown, 0);
                grown[^1] = rolled;
                Volatile.Write(ref _segments, grown);
            }
        }

        return written;
    }

    /// <summary>
    /// The taken batch could not be written (the disk is full) and is not in the log: its appends fault with
    /// <paramref name="failure"/>, and the appends pending since take over the positions it held, so positions stay
    /// contiguous. Nothing was published past the durable end, so no reader or waiter saw those positions.
    /// </summary>
    public void RefuseTaken(Exception failure)
    {
        long refused = _takenEnd - _writer.WrittenEnd;
        Debug.Assert(refused > 0);
        foreach (PendingAppend append in _takenAppends)
        {
            append.Completion.TrySetException(failure);
        }

        lock (SyncRoot)
        {
            for (int i = 0; i < _appends.Count; i++)
            {
                PendingAppend append = _appends[i];
                _appends[i] = append with { FirstPosition = append.FirstPosition - refused };
            }

            _nextPosition -= refused;
        }

        _takenEnd = _writer.WrittenEnd;
        RecycleTaken();
        Interlocked.Increment(ref _rewinds);
    }

    /// <summary>fdatasync of the segment the taken batch went to.</summary>
    public void SyncTaken()
    {
        _writer.Sync();
    }

    /// <summary>The taken batch is durable: publish the new end, complete its appends, wake the waiters.</summary>
    public void PublishTaken()
    {
        Volatile.Write(ref _durableEnd, _takenEnd);
        foreach (PendingAppend append in _takenAppends)
        {
            append.Completion.TrySetResult(append.FirstPosition);
        }

        RecycleTaken();
        TaskCompletionSource advanced = _durableAdvanced;
        Volatile.Write(ref _durableAdvanced, NewSignal());
        advanced.TrySetResult();
    }

    /// <summary>
    /// The log failed or closed: faults the taken and pending appends and the durable waiters with
    /// <paramref name="failure"/>. Returns the pending bytes dropped. Called by the flusher or after it stopped.
    /// </summary>
    public int Fail(Exception failure)
    {
        foreach (PendingAppend append in _takenAppends)
        {
            append.Completion.TrySetException(failure);
        }

        int dropped;
        lock (SyncRoot)
        {
            foreach (PendingAppend append in _appends)
            {
                append.Completion.TrySetException(failure);
            }

            dropped = _pendingLength;
            _appends.Clear();
            _pendingLength = 0;
        }

        RecycleTaken();
        Volatile.Read(ref _durableAdvanced).TrySetException(failure);
        return dropped;
    }

    public void Dispose()
    {
        _writer.Dispose();
    }

    private void RecycleTaken()
    {
        _takenAppends.Clear();
        _spareAppends = _takenAppends;
        if (_taken.Length > 0)
        {
            _spare = _taken;
        }

        _takenLength = 0;
    }

    private void EnsurePendingCapacity(int bytes)
    {
        if (bytes <= _pending.Length)
        {
            return;
        }

        var grown = new byte[Math.Max(bytes, (int)Math.Min(2L * _pending.Length, Array.MaxLength))];
        _pending.AsSpan(0, _pendingLength).CopyTo(grown);
        _pending = grown;
    }

    private static TaskCompletionSource NewSignal()
    {
        return new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

namespace Tollbooth.Log;

/// <summary>
/// Reads one partition's durable records in order across its segments, with its own read handle and buffer.
/// It never reads past the durable end taken at the start of each <see cref="Read"/>, and verifies every
/// record's CRC again after reading it (the read side of "assert on both sides of the disk").
/// </summary>
internal sealed class SegmentReader : ILogReader
{
    private readonly LogPartition _partition;
    private readonly FileWindow _window;
    private readonly int _recordBytesMax;
    private ILogFile? _file;
    private Segment _segment;
    private long _offset;
    private int _rewindsSeen;
    private bool _disposed;

    public SegmentReader(LogPartition partition, long position, int recordBytesMax)
    {
        _partition = partition;
        _recordBytesMax = recordBytesMax;
        _window = new FileWindow(recordBytesMax);

        // Read before anything is buffered: a cut back after this moment shows as a new count at the next Read.
        _rewindsSeen = partition.Rewinds;
        Segment[] segments = partition.Segments;
        if (position < segments[0].FirstPosition)
        {
            // Retention deleted it since the caller looked: the reader must not start at a later position instead.
            throw new LogRecordsDeletedException(partition.Index, position, segments[0].FirstPosition);
        }

        _segment = segments[Segment.IndexOf(segments, position)];
        Position = _segment.FirstPosition;
        try
        {
            _file = OpenSegment(_segment);
            SkipTo(position);
        }
        catch (FileNotFoundException) when (partition.FirstPosition > _segment.FirstPosition)
        {
            // Unlinked between taking the segment list and opening it.
            throw new LogRecordsDeletedException(partition.Index, position, partition.FirstPosition);
        }
        catch
        {
            _file?.Dispose();
            throw;
        }
    }

    public long Position { get; private set; }

    public int Read(LogReadBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed, this);
        batch.Reset(Position);
        if (Position < _partition.FirstPosition)
        {
            // Released by its owner, then deleted: what it would read next may be gone, so it stops here, loudly.
            throw new LogRecordsDeletedException(_partition.Index, Position, _partition.FirstPosition);
        }

        long durableEnd = _partition.DurableEnd;
        ForgetBufferedBytesIfRewound();
        while (Position < durableEnd)
        {
            MoveToNextSegmentIfDone();
            ReadOnlySpan<byte> frame = ReadFrame(verify: true);
            ReadOnlySpan<byte> payload = frame.Slice(FrameHeader.Size);
            if (!batch.TryAdd(payload.Length, out Span<byte> destination))
            {
                ThrowIfNeverFits(batch, payload.Length);
                break;
            }

            payload.CopyTo(destination);
            _offset += frame.Length;
            Position++;
        }

        return batch.Count;
    }

    public void Dispose()
    {
        _disposed = true;
        _file?.Dispose();
        _file = null;
    }

    /// <summary>
    /// The window may hold bytes read past the durable end from a write that failed (disk full) and was cut back;
    /// other records were written there since. The count is read after the durable end, and the writer moves it
    /// before it publishes any later end, so records below <c>durableEnd</c> are never served from such bytes.
    /// </summary>
    private void ForgetBufferedBytesIfRewound()
    {
        int rewinds = _partition.Rewinds;
        if (rewinds != _rewindsSeen)
        {
            _rewindsSeen = rewinds;
            _window.Clear();
        }
    }

    /// <summary>Walks frame headers from the segment's start to <paramref name="position"/>: linear, once per reader.</summary>
    private void SkipTo(long position)
    {
        while (Position < position)
        {
            _offset += ReadFrame(verify: false).Length;
            Position++;
        }
    }

    /// <summary>
    /// When every record of the current segment has been read, the next segment starts at <see cref="Position"/>.
    /// The segment list is read after the durable end, and a segment is published before the durable end passes it.
    /// Found by position, not by index: retention removes segments from the front of the list.
    /// </summary>
    private void MoveToNextSegmentIfDone()
    {
        if (Position == _segment.FirstPosition)
        {
            return;
        }

        Segment[] segments = _partition.Segments;
        Segment next = segments[Segment.IndexOf(segments, Position)];
        if (next.FirstPosition != Position)
        {
            return;
        }

        ILogFile file = OpenSegment(next);
        _file?.Dispose();
        _file = file;
        _segment = next;
        _offset = 0;
        _window.Clear();
    }

    /// <summary>The whole frame (header and payload) of the durable record at <see cref="Position"/>.</summary>
    private ReadOnlySpan<byte> ReadFrame(bool verify)
    {
        ILogFile file = _file!;
        ReadOnlySpan<byte> headerBytes = _window.Get(file, _offset, FrameHeader.Size);
        if (headerBytes.Length < FrameHeader.Size)
        {
            throw Corrupt($"The durable record at position {Position} is missing: the segment ends inside or before its header");
        }

        FrameHeader header = FrameHeader.Read(headerBytes);
        if (header.Length == 0 || header.Length > (uint)_recordBytesMax)
        {
            throw Corrupt($"The durable record at position {Position} declares {header.Length} bytes; a record holds 1 to {_recordBytesMax}");
        }

        int frameBytes = FrameHeader.Size + (int)header.Length;
        ReadOnlySpan<byte> frame = _window.Get(file, _offset, frameBytes);
        if (frame.Length < frameBytes)
        {
            throw Corrupt($"The durable record at position {Position} is cut short: {frame.Length} of {frameBytes} bytes");
        }

        if (verify && !header.Verifies(frame.Slice(FrameHeader.Size)))
        {
            uint actual = FrameHeader.ChecksumOf(frame.Slice(FrameHeader.Size));
            throw Corrupt($"The durable record at position {Position} does not verify: CRC32C expected {header.Checksum:x8}, actual {actual:x8}");
        }

        return frame;
    }

    private ILogFile OpenSegment(Segment segment)
    {
        return _partition.FileSystem.OpenRead(segment.Path);
    }

    private CorruptLogException Corrupt(string message)
    {
        return new CorruptLogException(_segment.Path, _offset, message);
    }

    private void ThrowIfNeverFits(LogReadBatch batch, int length)
    {
        if (batch.Count == 0)
        {
            throw new InvalidOperationException(
                $"The record at position {Position} has {length} bytes, more than the read batch's {batch.Buffer.Length}; use a LogReadBatch with bytesMax of at least RecordBytesMax ({_recordBytesMax}).");
        }
    }
}

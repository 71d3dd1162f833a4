using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Tollbooth.Log;

/// <summary>
/// The write side of one partition's files, used by the flusher thread only: writes group commits at the
/// end of the active segment with pwrite, rolls to a new segment when the active one is full, fdatasyncs.
/// </summary>
internal sealed class PartitionWriter : IDisposable
{
    private readonly string _directory;
    private readonly long _segmentBytesMax;
    private SafeFileHandle _handle;
    private long _bytes;

    public PartitionWriter(string directory, long segmentBytesMax, RecoveredPartition recovered)
    {
        _directory = directory;
        _segmentBytesMax = segmentBytesMax;
        _handle = recovered.ActiveHandle;
        _bytes = recovered.ActiveBytes;
        ActivePath = recovered.Segments[^1].Path;
        WrittenEnd = recovered.EndPosition;
    }

    /// <summary>The segment file being appended to.</summary>
    public string ActivePath { get; private set; }

    /// <summary>The position after the last record written (durable once <see cref="Sync"/> returns).</summary>
    public long WrittenEnd { get; private set; }

    /// <summary>
    /// Writes <paramref name="frames"/>, holding <paramref name="records"/> whole frames, at the end of the active
    /// segment; first rolls to a new segment when the active one has reached its maximum. Returns the new segment
    /// when it rolled, else null.
    /// </summary>
    public Segment? Write(ReadOnlySpan<byte> frames, long records)
    {
        AssertFramesVerify(frames, records);
        Segment? rolled = null;
        if (_bytes >= _segmentBytesMax)
        {
            rolled = Roll();
        }

        RandomAccess.Write(_handle, frames, _bytes);
        _bytes += frames.Length;
        WrittenEnd += records;
        return rolled;
    }

    /// <summary>fdatasync of the active segment; throws <see cref="IOException"/> when the kernel reports a failure.</summary>
    public void Sync()
    {
        NativeFile.FDataSync(_handle, ActivePath);
    }

    public void Dispose()
    {
        _handle.Dispose();
    }

    /// <summary>
    /// Starts <c>{WrittenEnd:D20}.seg</c> and fsyncs the directory. Every commit to the old segment was already
    /// fsynced, so only the newest segment can ever hold a torn tail.
    /// </summary>
    private Segment Roll()
    {
        var segment = new Segment(WrittenEnd, Path.Combine(_directory, Segment.FileName(WrittenEnd)));
        SafeFileHandle created = PartitionRecovery.CreateSegmentFile(segment.Path, _directory, rolling: true);
        _handle.Dispose();
        _handle = created;
        _bytes = 0;
        ActivePath = segment.Path;
        return segment;
    }

    /// <summary>The write side of "assert on both sides of the disk": every frame verifies before it is written.</summary>
    [Conditional("DEBUG")]
    private static void AssertFramesVerify(ReadOnlySpan<byte> frames, long records)
    {
        long count = 0;
        while (!frames.IsEmpty)
        {
            FrameHeader header = FrameHeader.Read(frames);
            int frameBytes = FrameHeader.Size + (int)header.Length;
            Debug.Assert(header.Length > 0);
            Debug.Assert(frameBytes <= frames.Length);
            Debug.Assert(header.Verifies(frames.Slice(FrameHeader.Size, (int)header.Length)));
            frames = frames.Slice(frameBytes);
            count++;
        }

        Debug.Assert(count == records);
    }
}

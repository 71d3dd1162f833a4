using System.Diagnostics;

namespace Tollbooth.Log;

/// <summary>
/// The write side of one partition's files, used by the flusher thread only: writes group commits at the
/// end of the active segment, rolls to a new segment when the active one is full, fdatasyncs. A full disk
/// (ENOSPC, EDQUOT) on a write or on creating a segment is not fail-stop: the segment is cut back to the end of
/// the last write, which is durable because every write is fdatasynced before the next one, and the caller
/// refuses that batch. A failed fdatasync or directory fsync always throws: the caller fails the log.
/// </summary>
internal sealed class PartitionWriter : IDisposable
{
    private readonly ILogFileSystem _files;
    private readonly string _directory;
    private readonly long _segmentBytesMax;
    private readonly TimeSpan? _segmentAgeMax;
    private readonly TimeProvider _time;
    private ILogFile _file;
    private long _bytes;
    private DateTimeOffset _activeSince;

    public PartitionWriter(ILogFileSystem files, string directory, long segmentBytesMax, RecoveredPartition recovered, TimeSpan? segmentAgeMax = null, TimeProvider? time = null)
    {
        _files = files;
        _directory = directory;
        _segmentBytesMax = segmentBytesMax;
        _segmentAgeMax = segmentAgeMax;
        _time = time ?? TimeProvider.System;
        _file = recovered.ActiveFile;
        _bytes = recovered.ActiveBytes;
        _activeSince = _time.GetUtcNow();
        WrittenEnd = recovered.EndPosition;
    }

    /// <summary>The segment file being appended to.</summary>
    public string ActivePath => _file.Path;

    /// <summary>The position after the last record written (durable once <see cref="Sync"/> returns).</summary>
    public long WrittenEnd { get; private set; }

    /// <summary>
    /// Writes <paramref name="frames"/>, holding <paramref name="records"/> whole frames, at the end of the active
    /// segment; first rolls to a new segment when the active one has reached its maximum (<paramref name="rolled"/>,
    /// which stays the active segment even when the write then fails). Returns false when the disk is full: then
    /// nothing of <paramref name="frames"/> is in the file, and the cut is durable.
    /// </summary>
    public bool TryWrite(ReadOnlySpan<byte> frames, long records, out Segment? rolled)
    {
        AssertFramesVerify(frames, records);
        rolled = null;
        if ((_bytes >= _segmentBytesMax || ActiveSegmentTooOld()) && !TryRoll(out rolled))
        {
            return false;
        }

        try
        {
            _file.Write(frames, _bytes);
        }
        catch (IOException exception) when (NativeFile.IsDiskFull(exception))
        {
            CutBackFailedWrite();
            return false;
        }

        _bytes += frames.Length;
        WrittenEnd += records;
        return true;
    }

    // An empty segment never rolls by age: a quiet partition does not make a new file every period.
    private bool ActiveSegmentTooOld() =>
        _segmentAgeMax is { } ageMax && _bytes > 0 && _time.GetUtcNow() - _activeSince >= ageMax;

    /// <summary>fdatasync of the active segment; throws <see cref="IOException"/> when the kernel reports a failure.</summary>
    public void Sync()
    {
        _file.DataSync();
    }

    public void Dispose()
    {
        _file.Dispose();
    }

    /// <summary>
    /// Starts <c>{WrittenEnd:D20}.seg</c> and fsyncs the directory before anything is written to it. Every commit to
    /// the old segment was already fsynced, so only the newest segment can ever hold a torn tail. False when the
    /// disk is too full to create the file; the old segment then stays active.
    /// </summary>
    private bool TryRoll(out Segment? rolled)
    {
        var segment = new Segment(WrittenEnd, Path.Combine(_directory, Segment.FileName(WrittenEnd)));
        rolled = null;
        ILogFile created;
        try
        {
            created = _files.CreateNew(segment.Path);
        }
        catch (IOException exception) when (NativeFile.IsDiskFull(exception))
        {
            return false;
        }

        try
        {
            if (Failpoints.Enabled)
            {
                Failpoints.Hit(Failpoints.LogRollBeforeDirectoryFsync);
            }

            _files.SyncDirectory(_directory);
        }
        catch
        {
            created.Dispose();
            throw;
        }

        _file.Dispose();
        _file = created;
        _bytes = 0;
        _activeSince = _time.GetUtcNow();
        rolled = segment;
        return true;
    }

    /// <summary>
    /// A write failed part way: cut the file back to the end of the last write that returned, and fdatasync the cut,
    /// so no frame of the failed write can survive a crash in front of the frames written next. A failure of either
    /// throws, and the caller fails the log: then recovery at the next start cuts any partial frame as a torn tail.
    /// </summary>
    private void CutBackFailedWrite()
    {
        _file.SetLength(_bytes);
        _file.DataSync();
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

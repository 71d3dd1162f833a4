using Microsoft.Win32.SafeHandles;

namespace Tollbooth.Log;

/// <summary>
/// Opens a partition at start-up: verifies every frame of every segment, cuts a torn tail off the last
/// segment (with a warning) and refuses damage anywhere else with <see cref="CorruptLogException"/>.
/// Only the last segment can be torn: a segment is closed only after its last group commit was fsynced.
/// </summary>
internal static class PartitionRecovery
{
    public static RecoveredPartition Recover(string directory, SegmentLogOptions options)
    {
        EnsureDirectory(directory);
        Segment[] segments = ListSegments(directory);
        if (segments.Length == 0)
        {
            var first = new Segment(0, Path.Combine(directory, Segment.FileName(0)));
            SafeFileHandle created = CreateSegmentFile(first.Path, directory);
            return new RecoveredPartition([first], 0, created, 0);
        }

        var scanner = new SegmentScanner(options.RecordBytesMax);
        long position = segments[0].FirstPosition;
        for (int i = 0; i < segments.Length - 1; i++)
        {
            CheckStartsAt(segments[i], position);
            position += ScanClosed(scanner, segments[i], options.RecordBytesMax);
        }

        Segment last = segments[^1];
        CheckStartsAt(last, position);
        SafeFileHandle handle = File.OpenHandle(last.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            long records = RecoverLast(scanner, handle, last.Path, options, out long bytes);
            return new RecoveredPartition(segments, position + records, handle, bytes);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Creates a segment file and makes its directory entry durable before anything is written to it.</summary>
    public static SafeFileHandle CreateSegmentFile(string path, string directory, bool rolling = false)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            if (Failpoints.Enabled && rolling)
            {
                Failpoints.Hit(Failpoints.LogRollBeforeDirectoryFsync);
            }

            NativeFile.FsyncDirectory(directory);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Creates the directory if missing and makes its entry in the parent durable.</summary>
    public static void EnsureDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        Directory.CreateDirectory(directory);
        NativeFile.FsyncDirectory(directory);
        string? parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        if (parent is not null)
        {
            NativeFile.FsyncDirectory(parent);
        }
    }

    private static Segment[] ListSegments(string directory)
    {
        var segments = new List<Segment>();
        foreach (string path in Directory.EnumerateFiles(directory, "*" + Segment.Extension))
        {
            if (!Segment.TryParse(path, out Segment segment))
            {
                throw new CorruptLogException(path, 0, $"The segment file's name is not a 20-digit position followed by {Segment.Extension}");
            }

            segments.Add(segment);
        }

        segments.Sort((left, right) => left.FirstPosition.CompareTo(right.FirstPosition));
        return segments.ToArray();
    }

    private static void CheckStartsAt(Segment segment, long position)
    {
        if (segment.FirstPosition != position)
        {
            throw new CorruptLogException(
                segment.Path,
                0,
                $"The segment's name says it starts at position {segment.FirstPosition}, but the segments before it end at position {position}");
        }
    }

    /// <summary>A segment before the last must verify to its end: damage there is never a torn tail.</summary>
    private static long ScanClosed(SegmentScanner scanner, Segment segment, int recordBytesMax)
    {
        using SafeFileHandle handle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(handle);
        long records = scanner.Scan(handle, length, out long end, out FrameCheck problem);
        if (problem != FrameCheck.Valid)
        {
            throw new CorruptLogException(
                segment.Path,
                end,
                $"A record of a closed segment does not verify: {SegmentScanner.Describe(problem, recordBytesMax)}");
        }

        return records;
    }

    /// <summary>
    /// Verifies the last segment. A bad frame at offset o is a torn tail only when no valid frame starts after o;
    /// then the file is cut at o (and the cut fsynced) with a warning. Returns the records kept.
    /// </summary>
    private static long RecoverLast(SegmentScanner scanner, SafeFileHandle handle, string path, SegmentLogOptions options, out long bytes)
    {
        long length = RandomAccess.GetLength(handle);
        long records = scanner.Scan(handle, length, out long end, out FrameCheck problem);
        bytes = end;
        if (problem == FrameCheck.Valid)
        {
            return records;
        }

        string described = SegmentScanner.Describe(problem, options.RecordBytesMax);
        long valid = scanner.FindValidFrameAfter(handle, end, length);
        if (valid >= 0)
        {
            throw new CorruptLogException(
                path,
                end,
                $"A record does not verify ({described}), yet a valid record starts after it at offset {valid}: this is damage inside the log, not a torn tail");
        }

        if (problem == FrameCheck.LengthAboveMax && SegmentScanner.VerifiesAboveMax(handle, end, length))
        {
            throw new InvalidOperationException(
                $"The record at offset {end} of {path} verifies but is larger than RecordBytesMax ({options.RecordBytesMax} bytes); " +
                "open the log with the RecordBytesMax it was written with, so this record is not cut as a torn tail.");
        }

        RandomAccess.SetLength(handle, end);
        NativeFile.FDataSync(handle, path);
        options.Warn?.Invoke(
            $"Cut a torn tail of {length - end} bytes at offset {end} of {path} ({described}); the segment's {records} records before it are kept.");
        return records;
    }
}

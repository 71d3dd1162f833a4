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
        ILogFileSystem files = options.FileSystem;
        EnsureDirectory(files, directory);
        Segment[] segments = ListSegments(files, directory);
        if (segments.Length == 0)
        {
            var first = new Segment(0, Path.Combine(directory, Segment.FileName(0)));
            ILogFile created = CreateSegmentFile(files, first.Path, directory);
            return new RecoveredPartition([first], 0, created, 0);
        }

        var scanner = new SegmentScanner(options.RecordBytesMax);
        long position = segments[0].FirstPosition;
        for (int i = 0; i < segments.Length - 1; i++)
        {
            CheckStartsAt(segments[i], position);
            position += ScanClosed(files, scanner, segments[i], options.RecordBytesMax);
        }

        Segment last = segments[^1];
        CheckStartsAt(last, position);
        ILogFile file = files.OpenReadWrite(last.Path);
        try
        {
            long records = RecoverLast(scanner, file, options, out long bytes);
            return new RecoveredPartition(segments, position + records, file, bytes);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Creates a segment file and makes its directory entry durable before anything is written to it.</summary>
    private static ILogFile CreateSegmentFile(ILogFileSystem files, string path, string directory)
    {
        ILogFile file = files.CreateNew(path);
        try
        {
            files.SyncDirectory(directory);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates the directory if missing, and makes its entries and its entry in the parent durable, even when it
    /// existed: a process killed after creating it (or a segment file in it) and before the fsync left entries that
    /// only the page cache knows, and what recovery accepts must survive a power loss.
    /// </summary>
    public static void EnsureDirectory(ILogFileSystem files, string directory)
    {
        if (!files.DirectoryExists(directory))
        {
            files.CreateDirectory(directory);
        }

        files.SyncDirectory(directory);
        string? parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        if (parent is not null)
        {
            files.SyncDirectory(parent);
        }
    }

    private static Segment[] ListSegments(ILogFileSystem files, string directory)
    {
        var segments = new List<Segment>();
        foreach (string path in files.ListFiles(directory))
        {
            if (!path.EndsWith(Segment.Extension, StringComparison.Ordinal))
            {
                continue;
            }

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
    private static long ScanClosed(ILogFileSystem files, SegmentScanner scanner, Segment segment, int recordBytesMax)
    {
        using ILogFile file = files.OpenRead(segment.Path);
        long length = file.Length;
        long records = scanner.Scan(file, length, out long end, out FrameCheck problem);
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
    private static long RecoverLast(SegmentScanner scanner, ILogFile file, SegmentLogOptions options, out long bytes)
    {
        string path = file.Path;
        long length = file.Length;
        long records = scanner.Scan(file, length, out long end, out FrameCheck problem);
        bytes = end;
        if (problem == FrameCheck.Valid)
        {
            // The tail may have been written and never fdatasynced by a process that was killed: what recovery
            // accepts is read and counted from now on, and written after, so it must be durable first.
            file.DataSync();
            return records;
        }

        string described = SegmentScanner.Describe(problem, options.RecordBytesMax);
        long valid = scanner.FindValidFrameAfter(file, end, length);
        if (valid >= 0)
        {
            throw new CorruptLogException(
                path,
                end,
                $"A record does not verify ({described}), yet a valid record starts after it at offset {valid}: this is damage inside the log, not a torn tail");
        }

        if (problem == FrameCheck.LengthAboveMax && SegmentScanner.VerifiesAboveMax(file, end, length))
        {
            throw new InvalidOperationException(
                $"The record at offset {end} of {path} verifies but is larger than RecordBytesMax ({options.RecordBytesMax} bytes); " +
                "open the log with the RecordBytesMax it was written with, so this record is not cut as a torn tail.");
        }

        file.SetLength(end);
        file.DataSync();
        options.Warn?.Invoke(
            $"Cut a torn tail of {length - end} bytes at offset {end} of {path} ({described}); the segment's {records} records before it are kept.");
        return records;
    }
}

namespace Tollbooth.Archive;

/// <summary>Reads the archived clicks of a range of event-time minutes: only files a finished flush wrote.</summary>
public static class ArchiveScan
{
    private const long MinuteMs = 60_000;

    /// <summary>The files that may hold clicks of minutes <c>[fromMinute, toMinute)</c>, each below its partition's mark.</summary>
    public static List<string> Files(string root, long fromMinute, long toMinute)
    {
        long fromHour = ArchiveFiles.HourOf(fromMinute * MinuteMs);
        var marks = new Dictionary<int, long>();
        var files = new List<string>();
        foreach (string file in ArchiveFiles.Of(root))
        {
            if (!ArchiveFiles.TryParseHourDirectory(Path.GetFileName(Path.GetDirectoryName(file))!, out long hour)
                || hour < fromHour || hour >= toMinute * MinuteMs
                || !ArchiveFiles.TryParse(file, out int partition, out _, out long end))
            {
                continue;
            }

            // A file past its partition's mark is what a crash left of an unfinished flush: not archived yet.
            if (!marks.TryGetValue(partition, out long mark))
            {
                mark = ParquetArchive.ReadMark(root, partition);
                marks.Add(partition, mark);
            }

            if (end <= mark)
            {
                files.Add(file);
            }
        }

        return files;
    }

    /// <summary>Every archived click of minutes <c>[fromMinute, toMinute)</c>, file by file.</summary>
    public static IEnumerable<ArchiveRecord> Records(string root, long fromMinute, long toMinute, Action<int, int>? progress = null)
    {
        List<string> files = Files(root, fromMinute, toMinute);
        for (int i = 0; i < files.Count; i++)
        {
            IReadOnlyList<ArchiveRecord> records;
            try
            {
                records = ArchiveFormat.Read(files[i]);
            }
            catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
            {
                // Retention deleted the hour after it was listed: its clicks are gone, as they would be a moment later.
                continue;
            }

            foreach (ArchiveRecord record in records)
            {
                long minute = Math.DivRem(record.Click.TimestampMs, MinuteMs, out long remainder) - (remainder < 0 ? 1 : 0);
                if (minute >= fromMinute && minute < toMinute)
                {
                    yield return record;
                }
            }

            progress?.Invoke(i + 1, files.Count);
        }
    }
}

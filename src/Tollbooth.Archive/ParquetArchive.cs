using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using Tollbooth.Core;
using Tollbooth.Log;
using Tollbooth.Processing;

namespace Tollbooth.Archive;

/// <summary>
/// The raw archive as Parquet files by event hour: <c>archive/hour=2026-11-23T10/p0003-000000001000-000000002000.parquet</c>
/// holds the clicks of partition 3, positions [1000, 2000), whose event time falls in that hour. A flush
/// writes one file per hour it touches (each written to a temporary name, fsynced, renamed, its directory
/// fsynced), then the partition's mark <c>archive/p0003.mark</c> (the end position, checksummed, replaced
/// the same way). Files at or past the mark belong to a flush that did not finish: recovery deletes them,
/// and the processor adds those positions again. So every position is in exactly one file, across any crash.
/// </summary>
public sealed class ParquetArchive : IClickArchive
{
    private readonly string _root;
    private readonly int _flushRowsMax;
    private readonly long _flushIntervalMs;
    private readonly Dictionary<int, PartitionBuffer> _buffers = new();
    private readonly Lock _buffersLock = new();

    public ParquetArchive(string root, int flushRowsMax = 65_536, long flushIntervalMs = 60_000)
    {
        _root = root;
        _flushRowsMax = flushRowsMax;
        _flushIntervalMs = flushIntervalMs;
        Directory.CreateDirectory(root);
    }

    public string Root => _root;

    public long ArchivedEnd(int partition)
    {
        long end = ReadMark(_root, partition);
        foreach (string file in ArchiveFiles.Of(_root))
        {
            if (ArchiveFiles.TryParse(file, out int filePartition, out long first, out _) && filePartition == partition && first >= end)
            {
                File.Delete(file);
                NativeFile.FsyncDirectory(Path.GetDirectoryName(file)!);
            }
        }

        foreach (string temporary in Directory.EnumerateFiles(_root, $"p{partition:D4}-*.tmp", SearchOption.AllDirectories))
        {
            File.Delete(temporary);
        }

        Buffer(partition).Reset(end);
        return end;
    }

    public void Add(int partition, long position, Click click, ClickOutcome outcome) =>
        Buffer(partition).Add(new ArchiveRecord(partition, position, click, outcome));

    public bool FlushDue(int partition)
    {
        PartitionBuffer buffer = Buffer(partition);
        return buffer.Records.Count >= _flushRowsMax
            || (buffer.Records.Count > 0 && buffer.OldestAge.ElapsedMilliseconds >= _flushIntervalMs);
    }

    public void Flush(int partition)
    {
        PartitionBuffer buffer = Buffer(partition);
        if (buffer.Records.Count == 0)
        {
            return;
        }

        long first = buffer.Records[0].Position;
        long end = buffer.Records[^1].Position + 1;
        foreach (IGrouping<long, ArchiveRecord> hour in buffer.Records.GroupBy(r => ArchiveFiles.HourOf(r.Click.TimestampMs)))
        {
            string directory = Path.Combine(_root, ArchiveFiles.HourDirectory(hour.Key));
            bool created = !Directory.Exists(directory);
            Directory.CreateDirectory(directory);
            if (created)
            {
                NativeFile.FsyncDirectory(_root);
            }

            string path = Path.Combine(directory, ArchiveFiles.FileName(partition, first, end));
            ArchiveFormat.WriteDurably(path, hour.ToList());
        }

        WriteMark(partition, end);
        buffer.Reset(end);
    }

    /// <summary>The end position recorded by the last finished flush of a partition; 0 when none.</summary>
    public static long ReadMark(string root, int partition)
    {
        string path = MarkPath(root, partition);
        if (!File.Exists(path))
        {
            return 0;
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length != 16 || BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8)) != XxHash64.HashToUInt64(bytes.AsSpan(0, 8)))
        {
            // The mark is replaced by rename, so it is whole or absent: damage here is not a torn write.
            throw new InvalidDataException($"The archive mark {path} is damaged; restore it, or delete the archive to rebuild it with `tollbooth replay`.");
        }

        return BinaryPrimitives.ReadInt64LittleEndian(bytes);
    }

    private static string MarkPath(string root, int partition) => Path.Combine(root, $"p{partition:D4}.mark");

    private void WriteMark(int partition, long end)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, end);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), XxHash64.HashToUInt64(bytes.AsSpan(0, 8)));
        string target = MarkPath(_root, partition);
        string temporary = target + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush();
            NativeFile.FDataSync(stream.SafeFileHandle, temporary);
        }

        File.Move(temporary, target, overwrite: true);
        NativeFile.FsyncDirectory(_root);
    }

    private PartitionBuffer Buffer(int partition)
    {
        lock (_buffersLock)
        {
            if (!_buffers.TryGetValue(partition, out PartitionBuffer? buffer))
            {
                buffer = new PartitionBuffer();
                _buffers.Add(partition, buffer);
            }

            return buffer;
        }
    }

    private sealed class PartitionBuffer
    {
        private long _next;

        public List<ArchiveRecord> Records { get; } = new();

        public Stopwatch OldestAge { get; } = new();

        public void Add(ArchiveRecord record)
        {
            if (record.Position != _next)
            {
                throw new InvalidOperationException(
                    $"Partition {record.Partition}: the archive expected position {_next} next but was given {record.Position}; positions must arrive in order, each once.");
            }

            if (Records.Count == 0)
            {
                OldestAge.Restart();
            }

            Records.Add(record);
            _next++;
        }

        public void Reset(long next)
        {
            Records.Clear();
            OldestAge.Reset();
            _next = next;
        }
    }
}

/// <summary>One archived click: where it is in the log, the click as ingest stored it, and its verdict.</summary>
public sealed record ArchiveRecord(int Partition, long Position, Click Click, ClickOutcome Outcome);

/// <summary>Archive file names and hour directories.</summary>
public static class ArchiveFiles
{
    private const long HourMs = 3_600_000;

    public static long HourOf(long timestampMs) => timestampMs - (((timestampMs % HourMs) + HourMs) % HourMs);

    public static string HourDirectory(long hourMs) =>
        "hour=" + DateTimeOffset.FromUnixTimeMilliseconds(hourMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH", CultureInfo.InvariantCulture);

    public static bool TryParseHourDirectory(string name, out long hourMs)
    {
        hourMs = 0;
        if (!name.StartsWith("hour=", StringComparison.Ordinal)
            || !DateTime.TryParseExact(name[5..], "yyyy-MM-dd'T'HH", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime hour))
        {
            return false;
        }

        hourMs = new DateTimeOffset(hour, TimeSpan.Zero).ToUnixTimeMilliseconds();
        return true;
    }

    public static string FileName(int partition, long first, long end) => $"p{partition:D4}-{first:D12}-{end:D12}.parquet";

    public static bool TryParse(string path, out int partition, out long first, out long end)
    {
        partition = 0;
        first = end = 0;
        string[] parts = Path.GetFileNameWithoutExtension(path).Split('-');
        return Path.GetExtension(path) == ".parquet" && parts.Length == 3 && parts[0].Length >= 2 && parts[0][0] == 'p'
            && int.TryParse(parts[0].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out partition)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out first)
            && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out end);
    }

    /// <summary>Every archive file under <paramref name="root"/>, by hour then name.</summary>
    public static IEnumerable<string> Of(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateDirectories(root, "hour=*").Order(StringComparer.Ordinal)
                .SelectMany(hour => Directory.EnumerateFiles(hour, "*.parquet").Order(StringComparer.Ordinal))
            : [];
}

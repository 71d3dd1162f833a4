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
    // One buffer per partition, each touched only by that partition's processor thread: no lock per click.
    private readonly PartitionBuffer[] _buffers;

    // Flushes, erasures and retention change files: one at a time.
    private readonly Lock _filesLock = new();

    // SHA-256 of every erased user id: clicks of these users are archived already erased (a buffered click,
    // or one re-archived from the log after a crash, would otherwise bring the user back).
    private volatile HashSet<string> _erasedUsers;

    public ParquetArchive(string root, int partitions, int flushRowsMax = 65_536, long flushIntervalMs = 60_000)
    {
        _root = root;
        _buffers = new PartitionBuffer[partitions];
        for (int partition = 0; partition < partitions; partition++)
        {
            _buffers[partition] = new PartitionBuffer();
        }

        _flushRowsMax = flushRowsMax;
        _flushIntervalMs = flushIntervalMs;
        Directory.CreateDirectory(root);
        string erased = ErasedUsersPath(root);
        _erasedUsers = File.Exists(erased)
            ? File.ReadLines(erased).Where(line => line.Length == 64).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);
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

    /// <summary>Buffers the click of a log record with its verdict: the record's bytes are kept as they are, decoded at the flush.</summary>
    public void Add(int partition, long position, ReadOnlySpan<byte> record, ClickOutcome outcome) =>
        Buffer(partition).Add(partition, position, record, outcome);

    public bool FlushDue(int partition)
    {
        PartitionBuffer buffer = Buffer(partition);
        return buffer.Count >= _flushRowsMax
            || (buffer.Count > 0 && buffer.OldestAge.ElapsedMilliseconds >= _flushIntervalMs);
    }

    public void Flush(int partition)
    {
        PartitionBuffer buffer = Buffer(partition);
        if (buffer.Count == 0)
        {
            return;
        }

        List<ArchiveRecord> records = buffer.Decode(partition);
        long first = records[0].Position;
        long end = records[^1].Position + 1;
        lock (_filesLock)
        {
            // Read under the lock: an erasure that finished before this flush is applied to it.
            HashSet<string> erased = _erasedUsers;
            foreach (IGrouping<long, ArchiveRecord> hour in records
                .Select(r => erased.Count > 0 && r.Click.UserId.Length > 0 && erased.Contains(UserHash(r.Click.UserId)) ? r.Erase() : r)
                .GroupBy(r => ArchiveFiles.HourOf(r.Click.TimestampMs)))
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
        }

        buffer.Reset(end);
    }

    /// <summary>
    /// Erases one user's raw events (GDPR Article 17): every archived click of theirs keeps only what the
    /// aggregates were made of (see <see cref="ArchiveRecord.Erase"/>); files are rewritten durably, and the
    /// user is remembered (as a hash) so clicks archived later are erased too. Returns the clicks erased.
    /// </summary>
    public long EraseUser(string userId)
    {
        string hash = UserHash(userId);
        lock (_filesLock)
        {
            if (!_erasedUsers.Contains(hash))
            {
                string path = ErasedUsersPath(_root);
                using (var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None))
                {
                    stream.Write(System.Text.Encoding.ASCII.GetBytes(hash + "\n"));
                    stream.Flush();
                    NativeFile.FDataSync(stream.SafeFileHandle, path);
                }

                NativeFile.FsyncDirectory(_root);
                _erasedUsers = new HashSet<string>(_erasedUsers, StringComparer.Ordinal) { hash };
            }

            long erased = 0;
            foreach (string file in ArchiveFiles.Of(_root).ToList())
            {
                IReadOnlyList<ArchiveRecord> records = ArchiveFormat.Read(file);
                int count = records.Count(r => r.Click.UserId == userId);
                if (count > 0)
                {
                    ArchiveFormat.WriteDurably(file, records.Select(r => r.Click.UserId == userId ? r.Erase() : r).ToList());
                    erased += count;
                }
            }

            return erased;
        }
    }

    /// <summary>Deletes the archive's hours that ended before <paramref name="cutoffMs"/> (raw event retention); returns the files deleted.</summary>
    public int DeleteHoursBefore(long cutoffMs)
    {
        int deleted = 0;
        lock (_filesLock)
        {
            foreach (string directory in Directory.EnumerateDirectories(_root, "hour=*").ToList())
            {
                if (ArchiveFiles.TryParseHourDirectory(Path.GetFileName(directory), out long hour) && hour + 3_600_000 <= cutoffMs)
                {
                    deleted += Directory.GetFiles(directory).Length;
                    Directory.Delete(directory, recursive: true);
                }
            }

            if (deleted > 0)
            {
                NativeFile.FsyncDirectory(_root);
            }
        }

        return deleted;
    }

    private static string ErasedUsersPath(string root) => Path.Combine(root, "erased-users");

    private static string UserHash(string userId) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(userId)));

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
        NativeFile.ReplaceDurably(MarkPath(_root, partition), bytes);
    }

    private PartitionBuffer Buffer(int partition) => _buffers[partition];

    /// <summary>
    /// A partition's clicks since the last flush: their log records' bytes back to back in one growing array, with
    /// each one's position, end and verdict; no object per click until the flush decodes them.
    /// </summary>
    private sealed class PartitionBuffer
    {
        private readonly IdPool _ids = new();
        private byte[] _bytes = new byte[1 << 16];
        private int _bytesUsed;
        private int[] _ends = new int[1024];
        private ClickOutcome[] _outcomes = new ClickOutcome[1024];
        private long _first;
        private long _next;

        public int Count { get; private set; }

        public Stopwatch OldestAge { get; } = new();

        public void Add(int partition, long position, ReadOnlySpan<byte> record, ClickOutcome outcome)
        {
            if (position != _next)
            {
                throw new InvalidOperationException(
                    $"Partition {partition}: the archive expected position {_next} next but was given {position}; positions must arrive in order, each once.");
            }

            if (Count == 0)
            {
                OldestAge.Restart();
                _first = position;
            }

            if (_bytesUsed + record.Length > _bytes.Length)
            {
                Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _bytesUsed + record.Length));
            }

            if (Count == _ends.Length)
            {
                Array.Resize(ref _ends, Count * 2);
                Array.Resize(ref _outcomes, Count * 2);
            }

            record.CopyTo(_bytes.AsSpan(_bytesUsed));
            _bytesUsed += record.Length;
            _ends[Count] = _bytesUsed;
            _outcomes[Count] = outcome;
            Count++;
            _next++;
        }

        /// <summary>The buffered clicks as archive records, in position order.</summary>
        public List<ArchiveRecord> Decode(int partition)
        {
            var records = new List<ArchiveRecord>(Count);
            int start = 0;
            for (int i = 0; i < Count; i++)
            {
                Click click = ClickCodec.Decode(_bytes.AsSpan(start, _ends[i] - start), _ids);
                records.Add(new ArchiveRecord(partition, _first + i, click, _outcomes[i]));
                start = _ends[i];
            }

            return records;
        }

        public void Reset(long next)
        {
            Count = 0;
            _bytesUsed = 0;
            OldestAge.Reset();
            _next = next;
        }
    }
}

/// <summary>
/// One archived click: where it is in the log, the click as ingest stored it, and its verdict. An erased one
/// (a user's erasure) keeps only what the aggregates were made of, never who clicked: its user id, IP hash,
/// user agent, token and click id are blank. A valid one keeps, as <see cref="ErasedUserHash"/>, the 64-bit
/// hash its user id added to its window's unique-user sketch: the very value the stored sketch, which stays,
/// holds for it, so the window can still be rebuilt and reconciled bit for bit; 0 when the click was not
/// valid (it never reached a sketch) or was erased before the hash was kept.
/// </summary>
public sealed record ArchiveRecord(int Partition, long Position, Click Click, ClickOutcome Outcome, bool Erased = false, ulong ErasedUserHash = 0)
{
    /// <summary>An erased valid click whose user the window's sketch cannot be rebuilt without.</summary>
    public bool UserUnknown => Erased && ErasedUserHash == 0 && Outcome.Verdict == Verdict.Valid;

    /// <summary>Counts this click into <paramref name="row"/> with the processors' own code (<see cref="WindowRow.Count"/>).</summary>
    public void CountInto(WindowRow row) => row.Count(Click, Outcome, Erased ? ErasedUserHash : null);

    public ArchiveRecord Erase() => this with
    {
        Erased = true,
        ErasedUserHash = Outcome.Verdict == Verdict.Valid && Click.UserId.Length > 0 ? HyperLogLog.HashUserId(Click.UserId) : 0,
        Click = new Click
        {
            ClickId = "",
            AdId = Click.AdId,
            AdvertiserId = Click.AdvertiserId,
            CampaignId = Click.CampaignId,
            PublisherId = Click.PublisherId,
            Country = Click.Country,
            Device = Click.Device,
            TimestampMs = Click.TimestampMs,
            ReceivedMs = Click.ReceivedMs,
            CostMicros = Click.CostMicros,
            Signature = Click.Signature,
            SignedRequired = Click.SignedRequired,
        },
    };
}

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

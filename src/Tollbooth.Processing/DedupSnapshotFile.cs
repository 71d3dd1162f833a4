using System.Buffers.Binary;
using System.IO.Hashing;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Processing;

/// <summary>
/// A partition's dedup index and rate counters as of a committed position, so a restart re-reads only the log after it
/// instead of the whole log. The log stays the source of truth (I4): a missing, damaged or newer-than-
/// the-store snapshot is ignored and the index is rebuilt from position 0, which decides the same.
/// Layout: magic "TBDS", version, partition, position, max event time, XxHash64 of those; then the
/// index's own checksummed snapshot, then the rate counters' checksummed section. Written to a temporary file, fsynced, renamed, directory fsynced.
/// </summary>
public static class DedupSnapshotFile
{
    public const int HeaderSize = 36;
    private const uint Magic = 0x53444254; // "TBDS"
    private const int Version = 2;

    public static string PathOf(string directory, int partition) => Path.Combine(directory, $"p{partition:D2}.dedup");

    public static void Write(string directory, int partition, long position, long maxEventTimeMs, DedupIndex index, RateCounters rates)
    {
        Directory.CreateDirectory(directory);
        string target = PathOf(directory, partition);
        string temporary = target + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(header[4..], Version);
            BinaryPrimitives.WriteInt32LittleEndian(header[8..], partition);
            BinaryPrimitives.WriteInt64LittleEndian(header[12..], position);
            BinaryPrimitives.WriteInt64LittleEndian(header[20..], maxEventTimeMs);
            BinaryPrimitives.WriteUInt64LittleEndian(header[28..], XxHash64.HashToUInt64(header[..28]));
            stream.Write(header);
            index.WriteSnapshot(stream);
            rates.Write(stream);
            stream.Flush();
            NativeFile.FDataSync(stream.SafeFileHandle, temporary);
        }

        if (Failpoints.Enabled)
        {
            Failpoints.Hit(Failpoints.DedupSnapshotBeforeRename);
        }

        File.Move(temporary, target, overwrite: true);
        if (Failpoints.Enabled)
        {
            Failpoints.Hit(Failpoints.DedupSnapshotBeforeDirectoryFsync);
        }

        NativeFile.FsyncDirectory(directory);
    }

    /// <summary>The snapshot of a partition, or null (with the reason) when there is none usable.</summary>
    public static (long Position, long MaxEventTimeMs, DedupIndex Index, RateCounters Rates)? TryRead(string directory, int partition, long idsMax, out string? problem)
    {
        problem = null;
        string path = PathOf(directory, partition);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            Span<byte> header = stackalloc byte[HeaderSize];
            stream.ReadExactly(header);
            bool intact = BinaryPrimitives.ReadUInt32LittleEndian(header) == Magic
                && BinaryPrimitives.ReadInt32LittleEndian(header[4..]) == Version
                && BinaryPrimitives.ReadInt32LittleEndian(header[8..]) == partition
                && BinaryPrimitives.ReadUInt64LittleEndian(header[28..]) == XxHash64.HashToUInt64(header[..28]);
            if (!intact)
            {
                problem = $"{path} has a damaged or foreign header";
                return null;
            }

            DedupIndex index = DedupIndex.ReadSnapshot(stream, idsMax);
            RateCounters rates = RateCounters.Read(stream);
            return (BinaryPrimitives.ReadInt64LittleEndian(header[12..]), BinaryPrimitives.ReadInt64LittleEndian(header[20..]), index, rates);
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or EndOfStreamException)
        {
            problem = $"{path} cannot be read ({exception.Message})";
            return null;
        }
    }
}

using System.Buffers.Binary;

namespace Tollbooth.Log.Tests;

/// <summary>Small helpers shared by the log's tests: options, recognisable payloads, reading a partition back, segment paths.</summary>
public static class LogFixtures
{
    public static SegmentLogOptions Options(string directory, int partitions = 1, long segmentBytesMax = 64L << 20, List<string>? warnings = null, ILogFileSystem? files = null)
    {
        return new SegmentLogOptions
        {
            Directory = directory,
            FileSystem = files ?? RealLogFileSystem.Instance,
            PartitionCount = partitions,
            SegmentBytesMax = segmentBytesMax,
            PendingBytesMax = 4L << 20,
            RecordBytesMax = 64 << 10,
            Warn = warnings is null ? null : message =>
            {
                lock (warnings)
                {
                    warnings.Add(message);
                }
            },
        };
    }

    /// <summary>A payload of <paramref name="length"/> bytes (at least 8) whose first 8 bytes hold <paramref name="tag"/>.</summary>
    public static byte[] Payload(long tag, int length, Random? random = null)
    {
        var payload = new byte[Math.Max(length, sizeof(long))];
        random?.NextBytes(payload);
        BinaryPrimitives.WriteInt64LittleEndian(payload, tag);
        return payload;
    }

    public static long TagOf(ReadOnlySpan<byte> payload)
    {
        return BinaryPrimitives.ReadInt64LittleEndian(payload);
    }

    /// <summary>Every durable record of the partition from <paramref name="position"/>, through a small batch so reads span several calls.</summary>
    public static List<byte[]> ReadAll(IClickLog log, int partition, long position = 0, int batchRecords = 7)
    {
        var records = new List<byte[]>();
        using ILogReader reader = log.OpenReader(partition, position);
        var batch = new LogReadBatch(batchRecords, 1 << 20);
        while (true)
        {
            int count = reader.Read(batch);
            if (count == 0)
            {
                return records;
            }

            Assert.Equal(position + records.Count, batch.FirstPosition);
            for (int i = 0; i < count; i++)
            {
                records.Add(batch[i].ToArray());
            }
        }
    }

    public static string SegmentPath(string root, int partition, long firstPosition)
    {
        return Path.Combine(root, $"p{partition:D2}", $"{firstPosition:D20}.seg");
    }

    public static string[] Segments(string root, int partition, ILogFileSystem? fileSystem = null)
    {
        string directory = Path.Combine(root, $"p{partition:D2}");
        string[] files = fileSystem is null
            ? Directory.GetFiles(directory, "*.seg")
            : [.. fileSystem.ListFiles(directory).Where(path => path.EndsWith(".seg", StringComparison.Ordinal))];
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }
}

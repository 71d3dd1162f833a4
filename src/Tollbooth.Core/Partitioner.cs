using System.IO.Hashing;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// partition = hash(ad_id) mod P, with a hash that is stable across processes and versions
/// (never string.GetHashCode), so every row of an ad is owned by one partition (I2).
/// </summary>
public static class Partitioner
{
    public static int PartitionOf(string adId, int partitionCount)
    {
        Span<byte> buffer = stackalloc byte[256];
        int length = Encoding.UTF8.GetByteCount(adId);
        Span<byte> bytes = length <= buffer.Length ? buffer[..length] : new byte[length];
        Encoding.UTF8.GetBytes(adId, bytes);
        return PartitionOfUtf8(bytes, partitionCount);
    }

    /// <summary>The same partition from the ad id's UTF-8 bytes (ingest's record parser has no string of it).</summary>
    public static int PartitionOfUtf8(ReadOnlySpan<byte> adIdUtf8, int partitionCount) =>
        (int)(XxHash64.HashToUInt64(adIdUtf8) % (ulong)partitionCount);
}

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
        return (int)(XxHash64.HashToUInt64(bytes) % (ulong)partitionCount);
    }
}

using System.Buffers.Binary;
using System.Numerics;

namespace Tollbooth.Log;

/// <summary>
/// CRC32C (Castagnoli), as used by the frame header: hardware instructions through
/// <see cref="BitOperations.Crc32C(uint, ulong)"/>, 8 bytes at a time, then the rest.
/// </summary>
public static class Crc32C
{
    /// <summary>The register's starting value; the finished CRC is the register's complement.</summary>
    public const uint Seed = 0xFFFF_FFFF;

    /// <summary>The CRC32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        return ~Append(Seed, data);
    }

    /// <summary>Feeds <paramref name="data"/> into a running register; finish with <c>~register</c>.</summary>
    public static uint Append(uint register, ReadOnlySpan<byte> data)
    {
        int index = 0;
        for (; index + sizeof(ulong) <= data.Length; index += sizeof(ulong))
        {
            register = BitOperations.Crc32C(register, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(index)));
        }

        for (; index < data.Length; index++)
        {
            register = BitOperations.Crc32C(register, data[index]);
        }

        return register;
    }
}

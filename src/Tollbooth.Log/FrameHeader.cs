using System.Buffers.Binary;
using System.Numerics;

namespace Tollbooth.Log;

/// <summary>
/// The 8 bytes before every record in a segment file:
/// <c>[u32 LE payload length][u32 LE CRC32C over the 4 length bytes followed by the payload]</c>.
/// The CRC covers the length too, so a damaged length cannot pass for a shorter, valid record.
/// </summary>
public readonly struct FrameHeader
{
    /// <summary>Bytes in a frame header.</summary>
    public const int Size = 8;

    public FrameHeader(uint length, uint checksum)
    {
        Length = length;
        Checksum = checksum;
    }

    /// <summary>The payload's length in bytes, as stored (not yet checked against any limit).</summary>
    public uint Length { get; }

    /// <summary>The stored CRC32C of the length bytes and the payload.</summary>
    public uint Checksum { get; }

    /// <summary>The header for <paramref name="payload"/>.</summary>
    public static FrameHeader For(ReadOnlySpan<byte> payload)
    {
        return new FrameHeader((uint)payload.Length, ChecksumOf(payload));
    }

    /// <summary>The CRC32C of the payload's 4 little-endian length bytes followed by the payload.</summary>
    public static uint ChecksumOf(ReadOnlySpan<byte> payload)
    {
        // BitOperations.Crc32C(uint, uint) feeds the 4 bytes of its argument least significant first,
        // which is exactly the little-endian length field as it lies in the file.
        uint register = BitOperations.Crc32C(Crc32C.Seed, (uint)payload.Length);
        return ~Crc32C.Append(register, payload);
    }

    /// <summary>Reads a header from the first <see cref="Size"/> bytes of <paramref name="source"/>.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        return new FrameHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(source),
            BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(sizeof(uint))));
    }

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(sizeof(uint)), Checksum);
    }

    /// <summary>True when <paramref name="payload"/> has the stored length and checksum.</summary>
    public bool Verifies(ReadOnlySpan<byte> payload)
    {
        return (uint)payload.Length == Length && ChecksumOf(payload) == Checksum;
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace Tollbooth.Core;

public sealed partial class DedupIndex
{
    /// <summary>Bytes of the snapshot header: magic, version, count, base position, capacity, initial capacity, header checksum.</summary>
    public const int SnapshotHeaderSize = 48;

    /// <summary>Snapshot format version; bump it when the slot layout or <c>Home</c> changes.</summary>
    public const int SnapshotVersion = 1;

    private const uint SnapshotMagic = 0x58444254; // "TBDX" little-endian
    private const int ChunkSlots = 1 << 16;

    /// <summary>
    /// Writes the whole table: the header, then every slot (empty ones too, so reading needs no rehash) as
    /// three little-endian u64, then an XxHash64 of the slot bytes. The header carries its own XxHash64 so
    /// a damaged size is refused before anything is allocated.
    /// </summary>
    public void WriteSnapshot(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Span<byte> header = stackalloc byte[SnapshotHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, SnapshotMagic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], SnapshotVersion);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], _count);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], _basePosition);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], _slots.Length);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], _initialCapacity);
        BinaryPrimitives.WriteUInt64LittleEndian(header[40..], XxHash64.HashToUInt64(header[..40]));
        destination.Write(header);

        var hash = new XxHash64();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSlots * SlotBytes);
        try
        {
            for (int start = 0; start < _slots.Length; start += ChunkSlots)
            {
                ReadOnlySpan<Slot> chunk = _slots.AsSpan(start, Math.Min(ChunkSlots, _slots.Length - start));
                Span<byte> bytes = buffer.AsSpan(0, chunk.Length * SlotBytes);
                EncodeSlots(chunk, bytes);
                hash.Append(bytes);
                destination.Write(bytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(trailer, hash.GetCurrentHashAsUInt64());
        destination.Write(trailer);
    }

    /// <summary>
    /// Reads a snapshot written by <see cref="WriteSnapshot"/>; the index decides exactly as the one written.
    /// Throws <see cref="InvalidDataException"/> naming what is wrong when the bytes are not a whole, intact
    /// snapshot, and <see cref="DedupFullException"/> when it holds more than <paramref name="idsMax"/> ids.
    /// </summary>
    public static DedupIndex ReadSnapshot(Stream source, long idsMax)
    {
        ArgumentNullException.ThrowIfNull(source);
        Span<byte> header = stackalloc byte[SnapshotHeaderSize];
        ReadExactly(source, header, "header");
        (long count, long basePosition, int capacity, int initialCapacity) = ParseHeader(header);
        if (count > idsMax)
        {
            throw new DedupFullException(idsMax);
        }

        var index = new DedupIndex(idsMax, initialCapacity, capacity);
        index._basePosition = basePosition;
        long occupied = ReadSlots(source, index._slots);
        if (occupied != count)
        {
            throw new InvalidDataException(
                $"Dedup snapshot is inconsistent: the header says {count} ids but the table holds {occupied}. Rebuild the index by replaying the partition.");
        }

        index._count = count;
        return index;
    }

    private static (long Count, long BasePosition, int Capacity, int InitialCapacity) ParseHeader(ReadOnlySpan<byte> header)
    {
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (magic != SnapshotMagic)
        {
            throw new InvalidDataException($"Not a dedup index snapshot: magic 0x{magic:X8}, expected 0x{SnapshotMagic:X8}.");
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (version != SnapshotVersion)
        {
            throw new InvalidDataException(
                $"Dedup snapshot version {version} is not supported (this build reads version {SnapshotVersion}); rebuild the index by replaying the partition.");
        }

        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(header[40..]);
        ulong actual = XxHash64.HashToUInt64(header[..40]);
        if (expected != actual)
        {
            throw new InvalidDataException($"Dedup snapshot header is damaged: checksum 0x{actual:X16}, expected 0x{expected:X16}.");
        }

        long count = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        long basePosition = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        long capacity = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        long initialCapacity = BinaryPrimitives.ReadInt64LittleEndian(header[32..]);
        bool sizesValid = initialCapacity >= InitialCapacityMin && capacity >= initialCapacity && capacity <= Array.MaxLength
            && count >= 0 && count * 10 <= capacity * 9;
        if (!sizesValid)
        {
            throw new InvalidDataException(
                $"Dedup snapshot header has impossible sizes: count {count}, capacity {capacity}, initial capacity {initialCapacity}.");
        }

        return (count, basePosition, (int)capacity, (int)initialCapacity);
    }

    // Reads the slots and the trailing checksum; returns how many slots are occupied.
    private static long ReadSlots(Stream source, Slot[] slots)
    {
        var hash = new XxHash64();
        long occupied = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSlots * SlotBytes);
        try
        {
            for (int start = 0; start < slots.Length; start += ChunkSlots)
            {
                Span<Slot> chunk = slots.AsSpan(start, Math.Min(ChunkSlots, slots.Length - start));
                Span<byte> bytes = buffer.AsSpan(0, chunk.Length * SlotBytes);
                ReadExactly(source, bytes, $"slots from {start}");
                hash.Append(bytes);
                occupied += DecodeSlots(bytes, chunk);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Span<byte> trailer = stackalloc byte[8];
        ReadExactly(source, trailer, "checksum");
        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(trailer);
        ulong actual = hash.GetCurrentHashAsUInt64();
        if (expected != actual)
        {
            throw new InvalidDataException(
                $"Dedup snapshot content is damaged: checksum 0x{actual:X16}, expected 0x{expected:X16}. Rebuild the index by replaying the partition.");
        }

        return occupied;
    }

    private static void EncodeSlots(ReadOnlySpan<Slot> slots, Span<byte> bytes)
    {
        for (int i = 0; i < slots.Length; i++)
        {
            Span<byte> target = bytes.Slice(i * SlotBytes, SlotBytes);
            BinaryPrimitives.WriteUInt64LittleEndian(target, slots[i].High);
            BinaryPrimitives.WriteUInt64LittleEndian(target[8..], slots[i].Low);
            BinaryPrimitives.WriteUInt64LittleEndian(target[16..], slots[i].Packed);
        }
    }

    private static long DecodeSlots(ReadOnlySpan<byte> bytes, Span<Slot> slots)
    {
        long occupied = 0;
        for (int i = 0; i < slots.Length; i++)
        {
            ReadOnlySpan<byte> source = bytes.Slice(i * SlotBytes, SlotBytes);
            slots[i] = new Slot(
                BinaryPrimitives.ReadUInt64LittleEndian(source),
                BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(source[16..]));
            occupied += slots[i].IsEmpty ? 0 : 1;
        }

        return occupied;
    }

    private static void ReadExactly(Stream source, Span<byte> buffer, string part)
    {
        try
        {
            source.ReadExactly(buffer);
        }
        catch (EndOfStreamException exception)
        {
            throw new InvalidDataException(
                $"Dedup snapshot is truncated: the stream ended inside the {part}. Rebuild the index by replaying the partition.", exception);
        }
    }
}

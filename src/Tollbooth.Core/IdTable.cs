using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// A partition's ids as small integers: the UTF-8 bytes of an ad, advertiser, campaign, publisher, country or user
/// agent are looked up here once per click and the processor works with the integer from then on (window keys,
/// equality, hashing). The bytes live in one arena; the string of an id is made the first time someone asks for it
/// (a row handed to the store) and kept. Id 0 is the empty id. Belongs to one thread (a partition's processor).
/// Grows; <see cref="PartitionAggregator"/> starts a fresh table with only the ids its rows still hold when it
/// has grown well past them.
/// </summary>
public sealed class IdTable
{
    public const int Empty = 0;

    private byte[] _arena = new byte[1 << 16];
    private int _arenaUsed;
    private int[] _starts;
    private int[] _lengths;
    private ulong[] _hashes;
    private string?[] _strings;
    private int _count;

    // Open addressing, linear probing: id + 1 per slot, 0 for an empty one; at most half full.
    private int[] _slots;

    public IdTable(int capacity = 1 << 12)
    {
        capacity = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity));
        _starts = new int[capacity];
        _lengths = new int[capacity];
        _hashes = new ulong[capacity];
        _strings = new string?[capacity];
        _slots = new int[capacity * 2];
        _strings[0] = "";
        _count = 1;
    }

    /// <summary>Ids held, the empty one included.</summary>
    public int Count => _count;

    /// <summary>The id of these bytes, added when new.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Intern(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return Empty;
        }

        ulong hash = XxHash3.HashToUInt64(utf8);
        int mask = _slots.Length - 1;
        int index = (int)(hash & (uint)mask);
        while (true)
        {
            int slot = _slots[index];
            if (slot == 0)
            {
                return Add(utf8, hash, index);
            }

            int id = slot - 1;
            if (_hashes[id] == hash && utf8.SequenceEqual(_arena.AsSpan(_starts[id], _lengths[id])))
            {
                return id;
            }

            index = (index + 1) & mask;
        }
    }

    /// <summary>The UTF-8 bytes of an id.</summary>
    public ReadOnlySpan<byte> BytesOf(int id) => _arena.AsSpan(_starts[id], _lengths[id]);

    /// <summary>The string of an id, made once.</summary>
    public string StringOf(int id) => _strings[id] ??= Encoding.UTF8.GetString(BytesOf(id));

    /// <summary>The id of a string (for rows that come from the store).</summary>
    public int Intern(string value)
    {
        if (value.Length == 0)
        {
            return Empty;
        }

        int length = Encoding.UTF8.GetByteCount(value);
        byte[]? rented = null;
        Span<byte> bytes = length <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
        Encoding.UTF8.GetBytes(value, bytes);
        int id = Intern(bytes[..length]);
        _strings[id] ??= value;
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }

        return id;
    }

    private int Add(ReadOnlySpan<byte> utf8, ulong hash, int slotIndex)
    {
        if (_count == _starts.Length)
        {
            Grow();
            return Intern(utf8);
        }

        if (_arenaUsed + utf8.Length > _arena.Length)
        {
            Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaUsed + utf8.Length));
        }

        int id = _count++;
        utf8.CopyTo(_arena.AsSpan(_arenaUsed));
        _starts[id] = _arenaUsed;
        _lengths[id] = utf8.Length;
        _hashes[id] = hash;
        _arenaUsed += utf8.Length;
        _slots[slotIndex] = id + 1;
        return id;
    }

    private void Grow()
    {
        int capacity = _starts.Length * 2;
        Array.Resize(ref _starts, capacity);
        Array.Resize(ref _lengths, capacity);
        Array.Resize(ref _hashes, capacity);
        Array.Resize(ref _strings, capacity);
        _slots = new int[capacity * 2];
        int mask = _slots.Length - 1;
        for (int id = 1; id < _count; id++)
        {
            int index = (int)(_hashes[id] & (uint)mask);
            while (_slots[index] != 0)
            {
                index = (index + 1) & mask;
            }

            _slots[index] = id + 1;
        }
    }
}

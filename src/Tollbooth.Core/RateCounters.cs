using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// The rate rule's memory: how many clicks each user and each IP address sent to each ad in each
/// event-time minute, in log order. Keys are 64-bit hashes of (kind, ad, user or IP hash); a minute is
/// forgotten once no click that is not too late can reach it. Part of a partition's snapshot, so a
/// restart decides exactly as the run before it (I5).
/// </summary>
public sealed class RateCounters
{
    private const uint Magic = 0x52544352; // "RCTR"
    private const int SpareTablesMax = 4;
    private readonly SortedDictionary<long, Dictionary<ulong, int>> _byMinute = new();

    // Forgotten minutes' tables, cleared and kept for the next minutes: in a steady state no click allocates.
    private readonly Stack<Dictionary<ulong, int>> _spare = new();

    // The table of the minute last counted into: clicks come mostly in time order, so most skip the sorted lookup.
    private long _lastMinute;
    private Dictionary<ulong, int>? _lastCounts;

    /// <summary>Entries held, over every minute.</summary>
    public long Count { get; private set; }

    /// <summary>Counts one more click for <paramref name="key"/> in <paramref name="minute"/> and returns the new count.</summary>
    public int Increment(long minute, ulong key)
    {
        Dictionary<ulong, int>? counts = _lastCounts;
        if (counts is null || minute != _lastMinute)
        {
            if (!_byMinute.TryGetValue(minute, out counts))
            {
                counts = _spare.Count > 0 ? _spare.Pop() : new Dictionary<ulong, int>();
                _byMinute.Add(minute, counts);
            }

            _lastMinute = minute;
            _lastCounts = counts;
        }

        ref int count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, key, out bool existed);
        if (!existed)
        {
            Count++;
        }

        return ++count;
    }

    /// <summary>Drops every minute before <paramref name="minute"/>.</summary>
    public void ForgetBefore(long minute)
    {
        while (_byMinute.Count > 0)
        {
            KeyValuePair<long, Dictionary<ulong, int>> first = _byMinute.First();
            if (first.Key >= minute)
            {
                return;
            }

            Count -= first.Value.Count;
            _byMinute.Remove(first.Key);
            if (ReferenceEquals(first.Value, _lastCounts))
            {
                _lastCounts = null;
            }

            if (_spare.Count < SpareTablesMax)
            {
                first.Value.Clear();
                _spare.Push(first.Value);
            }
        }
    }

    /// <summary>The key of one sender (a user id or an IP hash) of one kind for one ad.</summary>
    public static ulong KeyOf(byte kind, string adId, string sender)
    {
        int length = 1 + Encoding.UTF8.GetByteCount(adId) + 1 + Encoding.UTF8.GetByteCount(sender);
        Span<byte> bytes = length <= 512 ? stackalloc byte[length] : new byte[length];
        bytes[0] = kind;
        int offset = 1 + Encoding.UTF8.GetBytes(adId, bytes[1..]);
        bytes[offset++] = 0; // ad ids never contain NUL: ("a", "bc") and ("ab", "c") differ
        Encoding.UTF8.GetBytes(sender, bytes[offset..]);
        return XxHash64.HashToUInt64(bytes);
    }

    /// <summary>The same key as <see cref="KeyOf(byte, string, string)"/>, from the ids' UTF-8 bytes.</summary>
    public static ulong KeyOfUtf8(byte kind, ReadOnlySpan<byte> adId, ReadOnlySpan<byte> sender)
    {
        int length = 1 + adId.Length + 1 + sender.Length;
        byte[]? rented = null;
        Span<byte> bytes = length <= 512 ? stackalloc byte[length] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
        bytes[0] = kind;
        adId.CopyTo(bytes[1..]);
        bytes[1 + adId.Length] = 0;
        sender.CopyTo(bytes[(2 + adId.Length)..]);
        ulong key = XxHash64.HashToUInt64(bytes[..length]);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }

        return key;
    }

    /// <summary>Layout: magic, minute count, then per minute its number, entry count and (key, count) pairs; XxHash64 of it all last.</summary>
    public void Write(Stream destination)
    {
        var hash = new XxHash64();
        Span<byte> buffer = stackalloc byte[16];
        void Put(ReadOnlySpan<byte> bytes)
        {
            destination.Write(bytes);
            hash.Append(bytes);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(buffer, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[4..], _byMinute.Count);
        Put(buffer[..8]);
        foreach ((long minute, Dictionary<ulong, int> counts) in _byMinute)
        {
            BinaryPrimitives.WriteInt64LittleEndian(buffer, minute);
            BinaryPrimitives.WriteInt32LittleEndian(buffer[8..], counts.Count);
            Put(buffer[..12]);
            foreach ((ulong key, int count) in counts)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(buffer, key);
                BinaryPrimitives.WriteInt32LittleEndian(buffer[8..], count);
                Put(buffer[..12]);
            }
        }

        BinaryPrimitives.WriteUInt64LittleEndian(buffer, hash.GetCurrentHashAsUInt64());
        destination.Write(buffer[..8]);
    }

    /// <summary>Reads what <see cref="Write"/> wrote; a damaged section throws <see cref="InvalidDataException"/>.</summary>
    public static RateCounters Read(Stream source)
    {
        var hash = new XxHash64();
        Span<byte> buffer = stackalloc byte[16];
        void Take(Span<byte> bytes)
        {
            source.ReadExactly(bytes);
            hash.Append(bytes);
        }

        var counters = new RateCounters();
        Take(buffer[..8]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(buffer) != Magic)
        {
            throw new InvalidDataException("The rate counters section has a wrong magic number.");
        }

        int minutes = BinaryPrimitives.ReadInt32LittleEndian(buffer[4..]);
        for (int m = 0; m < minutes; m++)
        {
            Take(buffer[..12]);
            long minute = BinaryPrimitives.ReadInt64LittleEndian(buffer);
            int entries = BinaryPrimitives.ReadInt32LittleEndian(buffer[8..]);
            if (entries < 0 || counters._byMinute.ContainsKey(minute))
            {
                throw new InvalidDataException("The rate counters section is damaged.");
            }

            var counts = new Dictionary<ulong, int>(entries);
            for (int e = 0; e < entries; e++)
            {
                Take(buffer[..12]);
                counts[BinaryPrimitives.ReadUInt64LittleEndian(buffer)] = BinaryPrimitives.ReadInt32LittleEndian(buffer[8..]);
            }

            counters._byMinute.Add(minute, counts);
            counters.Count += counts.Count;
        }

        ulong expected = hash.GetCurrentHashAsUInt64();
        source.ReadExactly(buffer[..8]);
        if (BinaryPrimitives.ReadUInt64LittleEndian(buffer) != expected)
        {
            throw new InvalidDataException("The rate counters section fails its checksum.");
        }

        return counters;
    }
}

using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Tollbooth.Core;

/// <summary>
/// The dedup index of one partition (I4): for every remembered click id, the log position where the id
/// was first seen and the event minute of that first click. An open-addressing table of 128-bit
/// fingerprints (<see cref="ClickFingerprint"/>) with Robin Hood linear probing, 24-byte slots and a load
/// factor kept in [0.75, 0.9] once it outgrows its initial capacity, so it costs at most 32 bytes per id.
/// </summary>
/// <remarks>
/// An id is remembered while its event minute is at or after the caller's <c>forgetBeforeMinute</c>
/// (the partition watermark minus <c>dedup_horizon</c>, a function of the log alone, I5). Expired entries
/// are never deleted in place: lookups treat them as absent, a later sighting overwrites them, and
/// <see cref="Compact"/> rebuilds the table without them. Decisions do not depend on whether or when
/// <see cref="Compact"/> ran, on growth, or on whether the index came from a snapshot, provided
/// <c>forgetBeforeMinute</c> never decreases and <see cref="Compact"/> gets a value no greater than later
/// calls of <see cref="Observe"/>. Event minutes are stored as minutes since 2020-01-01T00:00Z in 24 bits
/// (until 2051-11); minutes outside that range are clamped. Single-threaded: one processor owns it.
/// </remarks>
public sealed partial class DedupIndex
{
    /// <summary>Bytes of one table slot.</summary>
    public const int SlotBytes = 24;

    /// <summary>The smallest initial capacity accepted.</summary>
    public const int InitialCapacityMin = 16;

    /// <summary>Event minutes are stored relative to 2020-01-01T00:00Z, in minutes since the Unix epoch.</summary>
    public const long MinuteEpoch = 26_297_280;

    /// <summary>The largest stored (relative) minute: 2²⁴ − 1 minutes after <see cref="MinuteEpoch"/>.</summary>
    public const long StoredMinuteMax = (1L << MinuteBits) - 1;

    /// <summary>The largest distance between the smallest and largest position the table can hold at once.</summary>
    public const long RelativePositionMax = (1L << PositionBits) - 2;

    /// <summary>The largest <c>idsMax</c>: a table that full still fits in one array.</summary>
    public const long IdsMaxMax = 0x7FFFFFC7L * 3 / 4; // Array.MaxLength is 0x7FFFFFC7

    private const int MinuteBits = 24;
    private const int PositionBits = 64 - MinuteBits;
    private const ulong MinuteMask = (1UL << MinuteBits) - 1;
    private const ulong EmptyPacked = 0;
    private const ulong HomeMultiplier = 0x9E3779B97F4A7C15UL;

    private readonly long _idsMax;
    private readonly int _initialCapacity;
    private Slot[] _slots;
    private long _count;
    private long _basePosition;

    /// <summary>Creates an empty index that refuses to remember more than <paramref name="idsMax"/> ids.</summary>
    public DedupIndex(long idsMax, int initialCapacity = 1 << 16)
        : this(idsMax, initialCapacity, capacity: initialCapacity)
    {
    }

    private DedupIndex(long idsMax, int initialCapacity, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(idsMax, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(idsMax, IdsMaxMax);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialCapacity, InitialCapacityMin);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(initialCapacity, Array.MaxLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, initialCapacity);
        Debug.Assert(Unsafe.SizeOf<Slot>() == SlotBytes);
        Debug.Assert(IdsMaxMax == (long)Array.MaxLength * 3 / 4);
        _idsMax = idsMax;
        _initialCapacity = initialCapacity;
        _slots = new Slot[capacity];
    }

    /// <summary>Occupied slots: remembered ids, including expired ones that <see cref="Compact"/> has not yet removed.</summary>
    public long Count => _count;

    /// <summary>Slots in the table.</summary>
    public long Capacity => _slots.Length;

    /// <summary>The most ids this index remembers before <see cref="Observe"/> throws <see cref="DedupFullException"/>.</summary>
    public long IdsMax => _idsMax;

    /// <summary>The capacity the table started with; it never shrinks below it.</summary>
    public int InitialCapacity => _initialCapacity;

    /// <summary>Bytes of the slot array.</summary>
    public long MemoryBytes => (long)_slots.Length * SlotBytes;

    /// <summary>Table bytes per occupied slot; infinite when empty. At most 32 once <see cref="Count"/> exceeds <see cref="InitialCapacity"/>.</summary>
    public double BytesPerId => (double)MemoryBytes / _count;

    /// <summary>
    /// The one hot-path operation. If <paramref name="fingerprint"/> is remembered with an event minute at or
    /// after <paramref name="forgetBeforeMinute"/>, returns the position where it was first seen (less than
    /// <paramref name="position"/>: a duplicate; equal: the original, seen again in a replay). Otherwise
    /// remembers (fingerprint, position, eventMinute), overwriting an expired entry, and returns
    /// <paramref name="position"/>; an id whose <paramref name="eventMinute"/> is already before
    /// <paramref name="forgetBeforeMinute"/> is not remembered. Minutes count from the Unix epoch.
    /// </summary>
    /// <exception cref="DedupFullException">The index already remembers <see cref="IdsMax"/> ids.</exception>
    public long Observe(UInt128 fingerprint, long position, long eventMinute, long forgetBeforeMinute)
    {
        ulong high = (ulong)(fingerprint >> 64);
        ulong low = (ulong)fingerprint;
        Slot[] slots = _slots;
        int capacity = slots.Length;
        int index = Home(high, low, capacity);
        int distance = 0;
        while (true)
        {
            ref Slot slot = ref slots[index];
            ulong packed = slot.Packed;
            if (packed == EmptyPacked)
            {
                break;
            }

            if (slot.High == high && slot.Low == low)
            {
                if (StoredMinuteOf(packed) >= forgetBeforeMinute)
                {
                    return _basePosition + RelativePositionOf(packed);
                }

                if (eventMinute >= forgetBeforeMinute)
                {
                    // The fingerprint keeps its slot, so the probe sequence stays valid.
                    slot.Packed = Pack(position, eventMinute);
                }

                return position;
            }

            // Robin Hood: an entry farther from home than the resident would have displaced it.
            if (DistanceOf(in slot, index, capacity) < distance)
            {
                break;
            }

            distance++;
            index = index + 1 == capacity ? 0 : index + 1;
        }

        if (eventMinute >= forgetBeforeMinute)
        {
            Insert(high, low, position, eventMinute, index, distance);
        }

        return position;
    }

    private void Insert(ulong high, ulong low, long position, long eventMinute, int index, int distance)
    {
        if (_count >= _idsMax)
        {
            ThrowFull(_idsMax);
        }

        if ((_count + 1) * 10 > (long)_slots.Length * 9)
        {
            Grow(_count + 1);
            index = Home(high, low, _slots.Length);
            distance = 0;
        }

        ulong packed = Pack(position, eventMinute);
        Place(_slots, new Slot(high, low, packed), index, distance);
        _count++;
    }

    // Inserts an entry known to be absent, starting the probe at index, distance from its home.
    private static void Place(Slot[] slots, Slot carry, int index, int distance)
    {
        int capacity = slots.Length;
        while (true)
        {
            ref Slot slot = ref slots[index];
            if (slot.IsEmpty)
            {
                slot = carry;
                return;
            }

            int resident = DistanceOf(in slot, index, capacity);
            if (resident < distance)
            {
                (slot, carry) = (carry, slot);
                distance = resident;
            }

            distance++;
            index = index + 1 == capacity ? 0 : index + 1;
        }
    }

    // Fingerprints are hashes already; the multiply spreads inputs that are not (tests, sequential ids).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Home(ulong high, ulong low, int capacity) =>
        (int)Math.BigMul((high ^ low) * HomeMultiplier, (ulong)capacity, out _);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DistanceOf(in Slot slot, int index, int capacity)
    {
        int home = Home(slot.High, slot.Low, capacity);
        return index >= home ? index - home : index + capacity - home;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Pack(long position, long eventMinute)
    {
        long relative = position - _basePosition;
        if ((ulong)relative > (ulong)RelativePositionMax)
        {
            Rebase(position);
            relative = position - _basePosition;
        }

        long minute = Math.Clamp(eventMinute - MinuteEpoch, 0, StoredMinuteMax);
        return ((ulong)(relative + 1) << MinuteBits) | (ulong)minute;
    }

    private static long StoredMinuteOf(ulong packed) => (long)(packed & MinuteMask) + MinuteEpoch;

    private static long RelativePositionOf(ulong packed) => (long)(packed >> MinuteBits) - 1;

    [DoesNotReturn]
    private static void ThrowFull(long idsMax) => throw new DedupFullException(idsMax);
}

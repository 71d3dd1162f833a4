using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Tollbooth.Core;

public sealed partial class DedupIndex
{
    /// <summary>
    /// Removes every entry whose event minute is before <paramref name="forgetBeforeMinute"/> (entries that
    /// lookups already treat as absent), sizes the table for a load of 0.8 (never below the initial
    /// capacity) and rebases positions on the smallest one left, so relative positions stay small. Call it
    /// as the watermark advances, with a value no greater than the next <see cref="Observe"/> calls will pass.
    /// Costs one pass over the table, plus, when something expired, a rebuild into a table of the new size, or a
    /// second pass deleting in place when the size stays (an index sized for its peak, at its initial capacity,
    /// compacts without allocating).
    /// </summary>
    public void Compact(long forgetBeforeMinute)
    {
        long live = 0;
        long relativeMin = long.MaxValue;
        foreach (ref readonly Slot slot in _slots.AsSpan())
        {
            if (!slot.IsEmpty && StoredMinuteOf(slot.Packed) >= forgetBeforeMinute)
            {
                live++;
                relativeMin = Math.Min(relativeMin, RelativePositionOf(slot.Packed));
            }
        }

        long shift = live == 0 ? 0 : relativeMin;
        if (live == _count)
        {
            ShiftInPlace(shift);
            return;
        }

        int capacity = CapacityForLoad(live, 5, 4);
        if (capacity == _slots.Length)
        {
            DeleteExpiredInPlace(forgetBeforeMinute);
            _count = live;
            ShiftInPlace(shift);
            return;
        }

        var slots = new Slot[capacity];
        ulong packedShift = (ulong)shift << MinuteBits;
        foreach (ref readonly Slot slot in _slots.AsSpan())
        {
            if (!slot.IsEmpty && StoredMinuteOf(slot.Packed) >= forgetBeforeMinute)
            {
                var moved = new Slot(slot.High, slot.Low, slot.Packed - packedShift);
                Place(slots, moved, Home(moved.High, moved.Low, slots.Length), 0);
            }
        }

        _slots = slots;
        _count = live;
        _basePosition += shift;
    }

    // Robin Hood deletion with backward shift, for every expired entry, in one pass. The pass starts at an empty slot,
    // which no probe run crosses, so no shift moves an entry past the pass's start; an entry shifted into the slot
    // just emptied is looked at again before the pass moves on. The entries left are valid Robin Hood order.
    private void DeleteExpiredInPlace(long forgetBeforeMinute)
    {
        Slot[] slots = _slots;
        int capacity = slots.Length;
        int index = 0;
        while (!slots[index].IsEmpty)
        {
            index++;
        }

        for (int looked = 0; looked < capacity;)
        {
            ref Slot slot = ref slots[index];
            if (!slot.IsEmpty && StoredMinuteOf(slot.Packed) < forgetBeforeMinute)
            {
                DeleteAt(slots, index);
                continue;
            }

            looked++;
            index = index + 1 == capacity ? 0 : index + 1;
        }
    }

    // Empties the slot at hole, moving each later entry of its probe run one slot back towards its home.
    private static void DeleteAt(Slot[] slots, int hole)
    {
        int capacity = slots.Length;
        while (true)
        {
            int next = hole + 1 == capacity ? 0 : hole + 1;
            ref Slot moved = ref slots[next];
            if (moved.IsEmpty || DistanceOf(in moved, next, capacity) == 0)
            {
                break;
            }

            slots[hole] = moved;
            hole = next;
        }

        slots[hole] = default;
    }

    // Called when one more entry would push the load above 0.9: afterwards the load is 0.75.
    private void Grow(long countAfter)
    {
        Slot[] slots = new Slot[CapacityForLoad(countAfter, 4, 3)];
        foreach (ref readonly Slot slot in _slots.AsSpan())
        {
            if (!slot.IsEmpty)
            {
                Place(slots, slot, Home(slot.High, slot.Low, slots.Length), 0);
            }
        }

        _slots = slots;
    }

    // count * numerator / denominator slots, at least the initial capacity and always a load of at most 0.9.
    private int CapacityForLoad(long count, long numerator, long denominator)
    {
        long capacity = Math.Max(count * numerator / denominator, (count * 10 / 9) + 1);
        capacity = Math.Max(capacity, _initialCapacity);
        Debug.Assert(capacity <= Array.MaxLength);
        return (int)capacity;
    }

    // Moves the base so that position fits: the slow path of Pack, taken when a replay presents a position
    // below the base (after Compact raised it) or when positions have run 2^40 past the base.
    private void Rebase(long position)
    {
        long relativeMin = 0;
        long relativeMax = 0;
        bool any = false;
        foreach (ref readonly Slot slot in _slots.AsSpan())
        {
            if (!slot.IsEmpty)
            {
                long relative = RelativePositionOf(slot.Packed);
                relativeMin = any ? Math.Min(relativeMin, relative) : relative;
                relativeMax = any ? Math.Max(relativeMax, relative) : relative;
                any = true;
            }
        }

        if (!any)
        {
            _basePosition = position;
            return;
        }

        long positionMin = Math.Min(_basePosition + relativeMin, position);
        long positionMax = Math.Max(_basePosition + relativeMax, position);
        if (positionMax - positionMin > RelativePositionMax)
        {
            ThrowPositionsTooFarApart(positionMin, positionMax);
        }

        ShiftInPlace(positionMin - _basePosition);
    }

    // Subtracts shift from every relative position and adds it to the base; absolute positions stay.
    private void ShiftInPlace(long shift)
    {
        if (shift == 0)
        {
            return;
        }

        ulong packedShift = unchecked((ulong)shift << MinuteBits);
        foreach (ref Slot slot in _slots.AsSpan())
        {
            if (!slot.IsEmpty)
            {
                slot.Packed = unchecked(slot.Packed - packedShift);
                Debug.Assert(!slot.IsEmpty);
            }
        }

        _basePosition += shift;
    }

    [DoesNotReturn]
    private static void ThrowPositionsTooFarApart(long positionMin, long positionMax) =>
        throw new InvalidOperationException(
            $"The dedup index of this partition would have to hold log positions {positionMin} and {positionMax}, " +
            $"more than {RelativePositionMax} apart; it stores positions in 40 bits relative to the oldest one. " +
            "Ids older than dedup_horizon leave the index only when it is compacted: make sure the processor " +
            "compacts the index as the watermark advances, or shorten dedup_horizon.");
}

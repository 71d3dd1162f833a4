using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Tollbooth.Core;

/// <summary>What the aggregator keeps about a row besides its numbers.</summary>
[Flags]
internal enum RowFlags : byte
{
    None = 0,

    /// <summary>The slot holds a row.</summary>
    Used = 1,

    /// <summary>Changed since the rows were last taken for a commit.</summary>
    Dirty = 2,

    /// <summary>The numbers changed after the row left Open, and that change is not published yet.</summary>
    Pending = 4,

    /// <summary>Gathered by the tick in progress (so it is published once).</summary>
    Ticked = 8,

    /// <summary>
    /// A change of the row is published but its row object is not made yet: the row as it stands is that change
    /// (<see cref="RowState.UnpublishedChange"/> says which), until the row is about to change again.
    /// </summary>
    Unpublished = 16,
}

/// <summary>The distinct user ids of a row while there are at most two: no array at all.</summary>
[InlineArray(2)]
internal struct InlineUsers
{
    private ulong _element;
}

/// <summary>
/// One window row as the aggregator holds it: the key as ids of the partition's <see cref="IdTable"/>, the numbers,
/// the billing bookkeeping and the unique-user sketch, in one struct of a flat array (no object per row).
/// </summary>
internal struct RowState
{
    public long Minute;
    public int Ad;
    public int Advertiser;
    public int Campaign;
    public int Publisher;
    public int Country;
    public Device Device;
    public WindowStatus Status;
    public RowFlags Flags;
    public int RuleVersion;

    /// <summary>With <see cref="RowFlags.Unpublished"/>: the index of the row's change among those not taken yet.</summary>
    public int UnpublishedChange;
    public ulong KeyHash;
    public long Received;
    public long Clicks;
    public long SpendMicros;
    public long DuplicateClicks;
    public long InvalidBadToken;
    public long InvalidBot;
    public long InvalidRate;
    public long InvalidUnsigned;
    public long TooLate;
    public long LateClicks;
    public long Revision;
    public long ReportedClicks;
    public long ReportedSpendMicros;

    /// <summary>Distinct user hashes held sparse (inline up to two, then in <see cref="Sparse"/>); -1 once dense.</summary>
    public int UserCount;
    public InlineUsers InlineUsers;
    public ulong[]? Sparse;
    public byte[]? Dense;
}

/// <summary>
/// A partition's resident window rows: <see cref="RowState"/> structs in one array, found through an open-addressing
/// index of packed (hash tag, row number) words with linear probing and backward-shift deletion. Row numbers stay
/// put while a row lives (queues and lists refer to them); freed ones are reused. Single-threaded.
/// </summary>
internal sealed class WindowTable
{
    private RowState[] _rows;
    private WindowRow?[] _snapshots;
    private int _highWater;
    private int[] _free = new int[64];
    private int _freeCount;
    private ulong[] _index;
    private int _count;

    public WindowTable(int capacity)
    {
        capacity = (int)Math.Max(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity));
        _rows = new RowState[capacity];
        _snapshots = new WindowRow?[capacity];
        _index = new ulong[capacity * 2];
    }

    /// <summary>Rows held.</summary>
    public int Count => _count;

    /// <summary>Row numbers in use are below this.</summary>
    public int HighWater => _highWater;

    public ref RowState this[int row] => ref _rows[row];

    /// <summary>A copy of the row made when its last change was published, while the row has not changed since.</summary>
    public ref WindowRow? SnapshotOf(int row) => ref _snapshots[row];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong HashOf(long minute, int ad, int advertiser, int campaign, int publisher, int country, Device device)
    {
        ulong hash = Mix((ulong)minute, ((ulong)(uint)ad << 32) | (uint)advertiser);
        hash = Mix(hash, ((ulong)(uint)campaign << 32) | (uint)publisher);
        hash = Mix(hash, ((ulong)(uint)country << 8) | (byte)device);
        hash ^= hash >> 33;
        hash *= 0xFF51AFD7ED558CCDUL;
        hash ^= hash >> 33;
        hash *= 0xC4CEB9FE1A85EC53UL;
        return hash ^ (hash >> 33);
    }

    /// <summary>The row of this key, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(ulong hash, long minute, int ad, int advertiser, int campaign, int publisher, int country, Device device)
    {
        ulong[] index = _index;
        int mask = index.Length - 1;
        int slot = (int)hash & mask;
        uint tag = (uint)(hash >> 32);
        while (true)
        {
            ulong entry = index[slot];
            if (entry == 0)
            {
                return -1;
            }

            if ((uint)(entry >> 32) == tag)
            {
                int row = (int)(uint)entry - 1;
                ref RowState state = ref _rows[row];
                if (state.KeyHash == hash && state.Minute == minute && state.Ad == ad && state.Advertiser == advertiser
                    && state.Campaign == campaign && state.Publisher == publisher && state.Country == country && state.Device == device)
                {
                    return row;
                }
            }

            slot = (slot + 1) & mask;
        }
    }

    /// <summary>Adds an empty row of this key (not present) and returns its number.</summary>
    public int Add(ulong hash, long minute, int ad, int advertiser, int campaign, int publisher, int country, Device device)
    {
        if ((_count + 1) * 2 > _index.Length)
        {
            Resize(_index.Length * 2);
        }

        int row;
        if (_freeCount > 0)
        {
            row = _free[--_freeCount];
        }
        else
        {
            if (_highWater == _rows.Length)
            {
                Array.Resize(ref _rows, _rows.Length * 2);
                Array.Resize(ref _snapshots, _rows.Length);
            }

            row = _highWater++;
        }

        _rows[row] = new RowState
        {
            Minute = minute,
            Ad = ad,
            Advertiser = advertiser,
            Campaign = campaign,
            Publisher = publisher,
            Country = country,
            Device = device,
            KeyHash = hash,
            Flags = RowFlags.Used,
        };
        Insert(row, hash);
        _count++;
        return row;
    }

    /// <summary>Removes a row; its number may be reused by the next <see cref="Add"/>.</summary>
    public void Remove(int row)
    {
        ulong[] index = _index;
        int mask = index.Length - 1;
        int hole = (int)_rows[row].KeyHash & mask;
        while ((int)(uint)index[hole] - 1 != row)
        {
            Debug.Assert(index[hole] != 0);
            hole = (hole + 1) & mask;
        }

        // Backward shift: later entries of the probe run move into the hole when their home allows it.
        int next = (hole + 1) & mask;
        while (index[next] != 0)
        {
            int home = (int)_rows[(int)(uint)index[next] - 1].KeyHash & mask;
            if (((next - home) & mask) >= ((next - hole) & mask))
            {
                index[hole] = index[next];
                hole = next;
            }

            next = (next + 1) & mask;
        }

        index[hole] = 0;
        _rows[row] = default;
        _snapshots[row] = null;
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, _free.Length * 2);
        }

        _free[_freeCount++] = row;
        _count--;
    }

    /// <summary>Rebuilds the index from the rows' <see cref="RowState.KeyHash"/> (after the key ids were renumbered).</summary>
    public void Reindex() => Resize(_index.Length);

    private void Resize(int indexLength)
    {
        _index = new ulong[indexLength];
        for (int row = 0; row < _highWater; row++)
        {
            if ((_rows[row].Flags & RowFlags.Used) != 0)
            {
                Insert(row, _rows[row].KeyHash);
            }
        }
    }

    private void Insert(int row, ulong hash)
    {
        ulong[] index = _index;
        int mask = index.Length - 1;
        int slot = (int)hash & mask;
        while (index[slot] != 0)
        {
            slot = (slot + 1) & mask;
        }

        index[slot] = ((hash >> 32) << 32) | (uint)(row + 1);
    }

    private static ulong Mix(ulong hash, ulong value)
    {
        hash ^= value * 0x9E3779B97F4A7C15UL;
        return System.Numerics.BitOperations.RotateLeft(hash, 29) * 0xBF58476D1CE4E5B9UL;
    }
}

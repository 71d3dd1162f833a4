namespace Tollbooth.Core;

/// <summary>
/// The unique-user sketches of a partition's rows, held flat in <see cref="RowState"/>: up to two hashes inline, then
/// a sorted array from a pool by size class (8 to <see cref="HyperLogLog.SparseMax"/>), then pooled dense registers.
/// The same adds give the same sketch as <see cref="HyperLogLog"/> (exact and sorted up to
/// <see cref="HyperLogLog.SparseMax"/> hashes, dense after), so the rows handed to the store are unchanged.
/// Arrays go back to the pool when a row is evicted: in a steady state adding allocates nothing.
/// </summary>
internal sealed class UserSketches
{
    private const int SmallestClass = 8;
    private const int SpareArraysMax = 4096;
    private readonly Stack<ulong[]>[] _sparse;
    private readonly Stack<byte[]> _dense = new();

    public UserSketches()
    {
        int classes = 0;
        for (int size = SmallestClass; size <= HyperLogLog.SparseMax; size *= 2)
        {
            classes++;
        }

        _sparse = new Stack<ulong[]>[classes];
        for (int i = 0; i < classes; i++)
        {
            _sparse[i] = new Stack<ulong[]>();
        }
    }

    public void Add(ref RowState row, ulong hash)
    {
        int count = row.UserCount;
        if (count < 0)
        {
            HyperLogLog.SetRegister(row.Dense!, hash);
            return;
        }

        Span<ulong> held = row.Sparse is { } array ? array.AsSpan(0, count) : ((Span<ulong>)row.InlineUsers)[..count];
        int at = held.BinarySearch(hash);
        if (at >= 0)
        {
            return;
        }

        at = ~at;
        int capacity = row.Sparse?.Length ?? 2;
        if (count == capacity)
        {
            if (count == HyperLogLog.SparseMax)
            {
                ToDense(ref row, held, hash);
                return;
            }

            ulong[] larger = RentSparse(capacity * 2 < SmallestClass ? SmallestClass : capacity * 2);
            held.CopyTo(larger);
            if (row.Sparse is { } old)
            {
                ReturnSparse(old);
            }

            row.Sparse = larger;
            held = larger.AsSpan(0, count);
        }

        Span<ulong> target = row.Sparse is { } grown ? grown.AsSpan(0, count + 1) : ((Span<ulong>)row.InlineUsers)[..(count + 1)];
        held[at..].CopyTo(target[(at + 1)..]);
        target[at] = hash;
        row.UserCount = count + 1;
    }

    /// <summary>The row's sketch as the store keeps it.</summary>
    public static HyperLogLog ToSketch(ref RowState row)
    {
        if (row.UserCount < 0)
        {
            return HyperLogLog.FromRegisters(row.Dense);
        }

        ReadOnlySpan<ulong> held = row.Sparse is { } array ? array.AsSpan(0, row.UserCount) : ((ReadOnlySpan<ulong>)row.InlineUsers)[..row.UserCount];
        return HyperLogLog.FromSorted(held);
    }

    /// <summary>Puts a stored sketch into an empty row.</summary>
    public void Load(ref RowState row, HyperLogLog sketch)
    {
        if (sketch.IsDense)
        {
            byte[] registers = RentDense();
            sketch.Registers.CopyTo(registers);
            row.Dense = registers;
            row.UserCount = -1;
            return;
        }

        ReadOnlySpan<ulong> hashes = sketch.SparseHashes;
        if (hashes.Length > 2)
        {
            int size = SmallestClass;
            while (size < hashes.Length)
            {
                size *= 2;
            }

            row.Sparse = RentSparse(size);
            hashes.CopyTo(row.Sparse);
        }
        else
        {
            hashes.CopyTo(row.InlineUsers);
        }

        row.UserCount = hashes.Length;
    }

    /// <summary>Gives the row's arrays back to the pool (the row is going).</summary>
    public void Release(ref RowState row)
    {
        if (row.Sparse is { } sparse)
        {
            ReturnSparse(sparse);
        }

        if (row.Dense is { } dense && _dense.Count < SpareArraysMax)
        {
            _dense.Push(dense);
        }

        row.Sparse = null;
        row.Dense = null;
        row.UserCount = 0;
    }

    private void ToDense(ref RowState row, ReadOnlySpan<ulong> held, ulong hash)
    {
        byte[] registers = RentDense();
        foreach (ulong h in held)
        {
            HyperLogLog.SetRegister(registers, h);
        }

        HyperLogLog.SetRegister(registers, hash);
        if (row.Sparse is { } old)
        {
            ReturnSparse(old);
        }

        row.Sparse = null;
        row.Dense = registers;
        row.UserCount = -1;
    }

    private byte[] RentDense()
    {
        if (_dense.TryPop(out byte[]? registers))
        {
            Array.Clear(registers);
            return registers;
        }

        return new byte[HyperLogLog.RegisterCount];
    }

    private ulong[] RentSparse(int size) => _sparse[ClassOf(size)].TryPop(out ulong[]? array) ? array : new ulong[size];

    private void ReturnSparse(ulong[] array)
    {
        Stack<ulong[]> spare = _sparse[ClassOf(array.Length)];
        if (spare.Count < SpareArraysMax)
        {
            spare.Push(array);
        }
    }

    private static int ClassOf(int size) => System.Numerics.BitOperations.Log2((uint)size) - System.Numerics.BitOperations.Log2(SmallestClass);
}

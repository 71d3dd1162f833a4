using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// A HyperLogLog sketch of distinct user ids, precision 12 (4,096 registers, standard error 1.6%).
/// Small sets stay exact (a sorted list of up to <see cref="SparseMax"/> 64-bit hashes); larger ones
/// switch to dense registers estimated with Ertl's improved estimator, unbiased over the whole range
/// without empirical tables. Deterministic: the same adds in any order give the same bytes.
/// </summary>
public sealed class HyperLogLog
{
    public const int Precision = 12;
    public const int RegisterCount = 1 << Precision;
    public const int SparseMax = 256;
    private const int RankMax = 64 - Precision + 1;

    private List<ulong>? _sparse;
    private byte[]? _registers;

    public HyperLogLog()
        : this(new List<ulong>(), null)
    {
    }

    // Exactly one of the two is set; the factories below give their own, so no empty list is made to be dropped.
    private HyperLogLog(List<ulong>? sparse, byte[]? registers)
    {
        _sparse = sparse;
        _registers = registers;
    }

    public bool IsDense => _registers is not null;

    /// <summary>The sorted hashes of a sparse sketch (empty when dense): for the processors' flat sketches.</summary>
    internal ReadOnlySpan<ulong> SparseHashes => _sparse is null ? default : System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_sparse);

    /// <summary>The registers of a dense sketch (empty when sparse).</summary>
    internal ReadOnlySpan<byte> Registers => _registers;

    /// <summary>A sparse sketch of these distinct hashes, ascending (at most <see cref="SparseMax"/>).</summary>
    internal static HyperLogLog FromSorted(ReadOnlySpan<ulong> hashes)
    {
        var sparse = new List<ulong>(hashes.Length);
        sparse.AddRange(hashes);
        return new HyperLogLog(sparse, null);
    }

    /// <summary>A dense sketch with a copy of these registers.</summary>
    internal static HyperLogLog FromRegisters(ReadOnlySpan<byte> registers) => new(null, registers.ToArray());

    public static ulong HashUserId(string userId)
    {
        Span<byte> buffer = stackalloc byte[512];
        int length = Encoding.UTF8.GetByteCount(userId);
        byte[]? rented = null;
        Span<byte> bytes = length <= buffer.Length ? buffer[..length] : (rented = new byte[length]);
        Encoding.UTF8.GetBytes(userId, bytes);
        return XxHash64.HashToUInt64(bytes);
    }

    /// <summary>The hash of a user id given as its UTF-8 bytes: the same value as <see cref="HashUserId"/>.</summary>
    public static ulong HashUserIdUtf8(ReadOnlySpan<byte> userId) => XxHash64.HashToUInt64(userId);

    public void AddUser(string userId)
    {
        if (userId.Length > 0)
        {
            AddHash(HashUserId(userId));
        }
    }

    public void AddHash(ulong hash)
    {
        if (_sparse is not null)
        {
            int index = _sparse.BinarySearch(hash);
            if (index >= 0)
            {
                return;
            }

            _sparse.Insert(~index, hash);
            if (_sparse.Count > SparseMax)
            {
                ToDense();
            }

            return;
        }

        SetRegister(_registers!, hash);
    }

    public void Merge(HyperLogLog other)
    {
        if (other._sparse is not null)
        {
            foreach (ulong hash in other._sparse)
            {
                AddHash(hash);
            }

            return;
        }

        if (_registers is null)
        {
            ToDense();
        }

        byte[] mine = _registers!;
        byte[] theirs = other._registers!;
        for (int i = 0; i < RegisterCount; i++)
        {
            if (theirs[i] > mine[i])
            {
                mine[i] = theirs[i];
            }
        }
    }

    public long Estimate()
    {
        if (_sparse is not null)
        {
            return _sparse.Count;
        }

        return (long)Math.Round(EstimateDense(_registers!));
    }

    public HyperLogLog Clone()
    {
        var copy = new HyperLogLog();
        if (_sparse is not null)
        {
            copy._sparse!.AddRange(_sparse);
        }
        else
        {
            copy._sparse = null;
            copy._registers = (byte[])_registers!.Clone();
        }

        return copy;
    }

    /// <summary>Format byte 0: sparse (u16 count, sorted u64 hashes); 1: dense (4,096 register bytes). Little-endian.</summary>
    public byte[] Serialize()
    {
        if (_sparse is not null)
        {
            var bytes = new byte[3 + (8 * _sparse.Count)];
            bytes[0] = 0;
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(1), (ushort)_sparse.Count);
            for (int i = 0; i < _sparse.Count; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(3 + (8 * i)), _sparse[i]);
            }

            return bytes;
        }

        var dense = new byte[1 + RegisterCount];
        dense[0] = 1;
        _registers!.CopyTo(dense, 1);
        return dense;
    }

    public static HyperLogLog Deserialize(ReadOnlySpan<byte> bytes)
    {
        var sketch = new HyperLogLog();
        if (bytes.Length == 0)
        {
            return sketch;
        }

        if (bytes[0] == 1 && bytes.Length == 1 + RegisterCount)
        {
            sketch._sparse = null;
            sketch._registers = bytes[1..].ToArray();
            return sketch;
        }

        if (bytes[0] != 0 || bytes.Length < 3)
        {
            throw new FormatException("A unique-users sketch has an unknown format byte; the store may be damaged.");
        }

        int count = BinaryPrimitives.ReadUInt16LittleEndian(bytes[1..]);
        if (bytes.Length != 3 + (8 * count))
        {
            throw new FormatException("A unique-users sketch has the wrong length; the store may be damaged.");
        }

        for (int i = 0; i < count; i++)
        {
            sketch._sparse!.Add(BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(3 + (8 * i), 8)));
        }

        return sketch;
    }

    private void ToDense()
    {
        var registers = new byte[RegisterCount];
        foreach (ulong hash in _sparse!)
        {
            SetRegister(registers, hash);
        }

        _sparse = null;
        _registers = registers;
    }

    internal static void SetRegister(Span<byte> registers, ulong hash)
    {
        int index = (int)(hash >> (64 - Precision));
        ulong rest = (hash << Precision) | (1UL << (Precision - 1));
        byte rank = (byte)(BitOperations.LeadingZeroCount(rest) + 1);
        if (rank > registers[index])
        {
            registers[index] = rank;
        }
    }

    // Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017), improved raw estimator.
    private static double EstimateDense(byte[] registers)
    {
        Span<int> histogram = stackalloc int[RankMax + 1];
        foreach (byte rank in registers)
        {
            histogram[rank]++;
        }

        double m = RegisterCount;
        int q = 64 - Precision;
        double z = m * Tau(1.0 - (histogram[q + 1] / m));
        for (int k = q; k >= 1; k--)
        {
            z = 0.5 * (z + histogram[k]);
        }

        z += m * Sigma(histogram[0] / m);
        return m * m / (2.0 * Math.Log(2.0) * z);
    }

    private static double Sigma(double x)
    {
        if (x == 1.0)
        {
            return double.PositiveInfinity;
        }

        double y = 1.0;
        double z = x;
        while (true)
        {
            x *= x;
            double previous = z;
            z += x * y;
            y += y;
            if (z == previous)
            {
                return z;
            }
        }
    }

    private static double Tau(double x)
    {
        if (x == 0.0 || x == 1.0)
        {
            return 0.0;
        }

        double y = 1.0;
        double z = 1.0 - x;
        while (true)
        {
            x = Math.Sqrt(x);
            double previous = z;
            y *= 0.5;
            z -= Math.Pow(1.0 - x, 2) * y;
            if (z == previous)
            {
                return z / 3.0;
            }
        }
    }
}

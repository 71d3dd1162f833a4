namespace Tollbooth.Log;

/// <summary>
/// A reusable buffer of consecutive records read from one partition: record <c>i</c> is at position
/// <see cref="FirstPosition"/> + i. Sized once; a reader never allocates per record.
/// </summary>
public sealed class LogReadBatch
{
    private readonly int[] _offsets;
    private readonly int[] _lengths;

    public LogReadBatch(int recordsMax = 4096, int bytesMax = 4 << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(recordsMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesMax, 1024);
        _offsets = new int[recordsMax];
        _lengths = new int[recordsMax];
        Buffer = new byte[bytesMax];
    }

    public byte[] Buffer { get; }

    public int RecordsMax => _offsets.Length;

    public int Count { get; private set; }

    public long FirstPosition { get; private set; }

    public int BytesUsed { get; private set; }

    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            return Buffer.AsSpan(_offsets[index], _lengths[index]);
        }
    }

    public void Reset(long firstPosition)
    {
        FirstPosition = firstPosition;
        Count = 0;
        BytesUsed = 0;
    }

    /// <summary>Reserves room for one record of <paramref name="length"/> bytes; false when the batch is full.</summary>
    public bool TryAdd(int length, out Span<byte> destination)
    {
        if (Count == _offsets.Length || BytesUsed + length > Buffer.Length)
        {
            destination = default;
            return false;
        }

        _offsets[Count] = BytesUsed;
        _lengths[Count] = length;
        destination = Buffer.AsSpan(BytesUsed, length);
        BytesUsed += length;
        Count++;
        return true;
    }
}

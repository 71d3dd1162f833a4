using System.Buffers;
using System.Text;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Ingest.Parsing;

/// <summary>
/// What <see cref="ClickRecordParser"/> made of a request body: a whole-body error, or the accepted clicks as log
/// records (the bytes <see cref="ClickCodec.Encode"/> gives, judged for signing) written back to back into one pooled
/// buffer per partition, ready for <see cref="IClickLog.AppendRecords"/>, plus the per-item rejections. Dispose it to
/// give the buffers back to the pool, once the log has copied them (it does before AppendRecords returns) and the
/// ads have been remembered.
/// </summary>
public sealed class ClickRecords : IDisposable
{
    private const int FirstBufferBytes = 16 * 1024;
    private const int FirstLengthsCount = 64;

    private readonly byte[]?[] _records;
    private readonly int[] _bytesUsed;
    private readonly int[]?[] _lengths;
    private readonly int[] _counts;
    private List<Rejection>? _rejections;

    internal ClickRecords(int partitionCount)
    {
        _records = new byte[]?[partitionCount];
        _bytesUsed = new int[partitionCount];
        _lengths = new int[]?[partitionCount];
        _counts = new int[partitionCount];
    }

    private ClickRecords(BodyError bodyError)
        : this(0)
    {
        BodyError = bodyError;
    }

    public BodyError? BodyError { get; private set; }

    /// <summary>How many clicks were accepted: the records in all partitions.</summary>
    public int Accepted { get; private set; }

    /// <summary>The rejected items, in body order.</summary>
    public IReadOnlyList<Rejection> Rejections => (IReadOnlyList<Rejection>?)_rejections ?? [];

    /// <summary>Accepted plus rejected: every item of the body.</summary>
    public int Items => Accepted + Rejections.Count;

    /// <summary>One entry per partition that received records, in partition order, over the pooled buffers.</summary>
    public PartitionRecords[] Batches()
    {
        int partitions = 0;
        foreach (int count in _counts)
        {
            partitions += count > 0 ? 1 : 0;
        }

        var batches = new PartitionRecords[partitions];
        int next = 0;
        for (int partition = 0; partition < _counts.Length; partition++)
        {
            if (_counts[partition] > 0)
            {
                batches[next++] = new PartitionRecords(partition, _records[partition].AsMemory(0, _bytesUsed[partition]), _lengths[partition].AsMemory(0, _counts[partition]));
            }
        }

        return batches;
    }

    /// <summary>
    /// Remembers the owner of every accepted click's ad, reading both ids from the records: a known ad costs no string.
    /// Call once the records are durable.
    /// </summary>
    public void RememberAds(AdDirectory ads)
    {
        Span<char> adId = stackalloc char[ClickRecordParser.IdLengthMax];
        Span<char> advertiserId = stackalloc char[ClickRecordParser.IdLengthMax];
        for (int partition = 0; partition < _counts.Length; partition++)
        {
            ReadOnlySpan<byte> records = _records[partition].AsSpan(0, _bytesUsed[partition]);
            foreach (int length in _lengths[partition].AsSpan(0, _counts[partition]))
            {
                var click = new ClickView(records[..length]);
                int adLength = Encoding.UTF8.GetChars(click.AdId, adId);
                int advertiserLength = Encoding.UTF8.GetChars(click.AdvertiserId, advertiserId);
                ads.Remember(adId[..adLength], advertiserId[..advertiserLength]);
                records = records[length..];
            }
        }
    }

    public void Dispose()
    {
        for (int partition = 0; partition < _counts.Length; partition++)
        {
            if (_records[partition] is { } records)
            {
                ArrayPool<byte>.Shared.Return(records);
                _records[partition] = null;
            }

            if (_lengths[partition] is { } lengths)
            {
                ArrayPool<int>.Shared.Return(lengths);
                _lengths[partition] = null;
            }
        }
    }

    internal static ClickRecords Failed(int status, string code, string message) => new(new BodyError(status, code, message));

    /// <summary>Room for one record of <paramref name="size"/> bytes at the end of the partition's buffer.</summary>
    internal Span<byte> Reserve(int partition, int size)
    {
        byte[]? records = _records[partition];
        int used = _bytesUsed[partition];
        if (records is null || records.Length - used < size)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(FirstBufferBytes, Math.Max(used + size, (records?.Length ?? 0) * 2)));
            if (records is not null)
            {
                records.AsSpan(0, used).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(records);
            }

            _records[partition] = records = larger;
        }

        return records.AsSpan(used, size);
    }

    /// <summary>Takes the record just written into <see cref="Reserve"/>'s room as accepted.</summary>
    internal void Commit(int partition, int size)
    {
        int[]? lengths = _lengths[partition];
        int count = _counts[partition];
        if (lengths is null || lengths.Length == count)
        {
            int[] larger = ArrayPool<int>.Shared.Rent(Math.Max(FirstLengthsCount, count * 2));
            if (lengths is not null)
            {
                lengths.AsSpan(0, count).CopyTo(larger);
                ArrayPool<int>.Shared.Return(lengths);
            }

            _lengths[partition] = lengths = larger;
        }

        lengths[count] = size;
        _counts[partition] = count + 1;
        _bytesUsed[partition] += size;
        Accepted++;
    }

    internal void Reject(int index, string error, string code) => (_rejections ??= []).Add(new Rejection(index, error, code));

    /// <summary>Turns this into a whole-body error, dropping whatever items were taken before it was found.</summary>
    internal ClickRecords Fail(int status, string code, string message)
    {
        Array.Clear(_counts);
        Array.Clear(_bytesUsed);
        Accepted = 0;
        _rejections = null;
        BodyError = new BodyError(status, code, message);
        return this;
    }
}

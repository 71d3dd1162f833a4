using Tollbooth.Log;

namespace Tollbooth.Simulation.Tests;

/// <summary>
/// The click log's contract in memory, for the simulation: appended records become durable only when
/// <see cref="MakeDurable"/> says so (a group commit that has not fsynced yet), and readers see durable records only.
/// Positions are 0, 1, 2, ... per partition. Single-threaded: the simulation drives everything from one thread.
/// </summary>
public sealed class InMemoryClickLog(int partitions) : IClickLog
{
    private readonly List<byte[]>[] _records = Enumerable.Range(0, partitions).Select(_ => new List<byte[]>()).ToArray();
    private readonly int[] _durable = new int[partitions];
    private readonly long[] _released = new long[partitions];

    public int PartitionCount => partitions;

    /// <summary>The records of a partition, durable or not.</summary>
    public IReadOnlyList<byte[]> Records(int partition) => _records[partition];

    /// <summary>The lowest position any owner of the partition said it may still read.</summary>
    public long Released(int partition) => _released[partition];

    /// <summary>Makes up to <paramref name="records"/> more of the partition's appended records durable.</summary>
    public void MakeDurable(int partition, int records) =>
        _durable[partition] = Math.Min(_records[partition].Count, _durable[partition] + records);

    public void MakeAllDurable()
    {
        for (int partition = 0; partition < partitions; partition++)
        {
            _durable[partition] = _records[partition].Count;
        }
    }

    public Task<long> AppendAsync(int partition, IReadOnlyList<byte[]> payloads)
    {
        long first = _records[partition].Count;
        foreach (byte[] payload in payloads)
        {
            _records[partition].Add(payload.ToArray());
        }

        return Task.FromResult(first);
    }

    public Task<long>[] AppendAll(IReadOnlyList<PartitionBatch> batches) =>
        batches.Select(batch => AppendAsync(batch.Partition, batch.Payloads)).ToArray();

    public Task<long>[] AppendRecords(ReadOnlySpan<PartitionRecords> batches)
    {
        var appended = new Task<long>[batches.Length];
        for (int b = 0; b < batches.Length; b++)
        {
            ReadOnlySpan<byte> records = batches[b].Records.Span;
            var payloads = new List<byte[]>();
            foreach (int length in batches[b].Lengths.Span)
            {
                payloads.Add(records[..length].ToArray());
                records = records[length..];
            }

            appended[b] = AppendAsync(batches[b].Partition, payloads);
        }

        return appended;
    }

    public long DurableEnd(int partition) => _durable[partition];

    public Task WaitForDurableAsync(int partition, long position, CancellationToken cancellationToken) =>
        DurableEnd(partition) > position ? Task.CompletedTask : Task.Delay(Timeout.Infinite, cancellationToken);

    public ILogReader OpenReader(int partition, long position) => new Reader(this, partition, position);

    public long FirstPosition(int partition) => 0;

    public void ReleaseBelow(int partition, long position) => _released[partition] = Math.Max(_released[partition], position);

    public void Dispose()
    {
    }

    private sealed class Reader(InMemoryClickLog log, int partition, long position) : ILogReader
    {
        public long Position { get; private set; } = position;

        public int Read(LogReadBatch batch)
        {
            batch.Reset(Position);
            int count = 0;
            while (Position < log._durable[partition] && batch.TryAdd(log._records[partition][(int)Position].Length, out Span<byte> destination))
            {
                log._records[partition][(int)Position].CopyTo(destination);
                Position++;
                count++;
            }

            return count;
        }

        public void Dispose()
        {
        }
    }
}

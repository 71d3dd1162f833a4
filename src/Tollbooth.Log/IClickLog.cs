namespace Tollbooth.Log;

/// <summary>
/// The click log: <see cref="PartitionCount"/> ordered partitions of opaque records, each record at a
/// position (0, 1, 2, ... per partition; a Kafka offset in the distributed implementation).
/// "Append" puts records into the next group commit; the returned task completes only once they are
/// durable (I1). Readers see durable records only, so nothing a processor counts can vanish in a crash.
/// </summary>
public interface IClickLog : IDisposable
{
    int PartitionCount { get; }

    /// <summary>
    /// Copies <paramref name="payloads"/> into the partition's next group commit. The task completes
    /// with the position of the first record once all of them are durable; it faults with
    /// <see cref="LogFailedException"/> if the commit failed (the log is then failed for good: fail-stop), and with
    /// <see cref="LogDiskFullException"/> if the disk was full (nothing of it stored; later appends are tried again).
    /// Throws <see cref="LogSaturatedException"/> at once, appending nothing, when the pending bytes are at their maximum.
    /// </summary>
    Task<long> AppendAsync(int partition, IReadOnlyList<byte[]> payloads);

    /// <summary>
    /// Appends a batch to each of several partitions, all or none: when the pending bytes cannot take every batch,
    /// throws <see cref="LogSaturatedException"/> with nothing appended anywhere. One task per batch, in order, each
    /// completing or faulting as <see cref="AppendAsync"/>'s does.
    /// </summary>
    Task<long>[] AppendAll(IReadOnlyList<PartitionBatch> batches);

    /// <summary>
    /// <see cref="AppendAll"/> for records that lie back to back in one buffer per partition (no array per record):
    /// all or none under saturation, one task per batch in order, each completing only once its records are durable.
    /// The buffers are copied before this returns, so the caller may reuse them at once.
    /// </summary>
    Task<long>[] AppendRecords(ReadOnlySpan<PartitionRecords> batches);

    /// <summary>The position after the last durable record of a partition.</summary>
    long DurableEnd(int partition);

    /// <summary>Completes when <see cref="DurableEnd"/> of the partition is greater than <paramref name="position"/>, or the token is cancelled.</summary>
    Task WaitForDurableAsync(int partition, long position, CancellationToken cancellationToken);

    /// <summary>
    /// A reader of durable records, starting at <paramref name="position"/>; it throws
    /// <see cref="LogRecordsDeletedException"/> below <see cref="FirstPosition"/>.
    /// </summary>
    ILogReader OpenReader(int partition, long position);

    /// <summary>The first position the partition still holds: 0 until retention deleted old segments.</summary>
    long FirstPosition(int partition);

    /// <summary>
    /// Nothing will read the partition below <paramref name="position"/> again, now or after a restart: the log may
    /// delete what lies wholly below it, per its retention. The caller names the lowest position it may still need.
    /// </summary>
    void ReleaseBelow(int partition, long position);
}

/// <summary>Reads one partition's durable records in order. Not thread-safe: one reader per processor.</summary>
public interface ILogReader : IDisposable
{
    /// <summary>The position of the next record to read.</summary>
    long Position { get; }

    /// <summary>
    /// Fills <paramref name="batch"/> with up to its capacity of durable records starting at <see cref="Position"/>
    /// and advances; returns how many (0 when no durable record is there yet).
    /// </summary>
    int Read(LogReadBatch batch);
}

/// <summary>A batch of records for one partition, for <see cref="IClickLog.AppendAll"/>.</summary>
public readonly record struct PartitionBatch(int Partition, IReadOnlyList<byte[]> Payloads);

/// <summary>
/// One partition's records for <see cref="IClickLog.AppendRecords"/>: <see cref="Records"/> holds them back to back,
/// the i-th <see cref="Lengths"/>[i] bytes long; the lengths add up to the buffer's length.
/// </summary>
public readonly record struct PartitionRecords(int Partition, ReadOnlyMemory<byte> Records, ReadOnlyMemory<int> Lengths);

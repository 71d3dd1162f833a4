namespace Tollbooth.Processing;

/// <summary>
/// A processor's claim on a partition, from <see cref="IPartitionStore.Claim"/>: every commit carries it, and the
/// store takes a commit only while <see cref="Epoch"/> is the partition's newest. A later claim (a restarted process,
/// another member of a cluster taking the partition over) fences every earlier lease: an owner that was paused and
/// wakes up after its partition moved cannot overwrite its successor's rows (issue 17).
/// </summary>
public readonly record struct PartitionLease(int Partition, long Epoch);

/// <summary>
/// A commit made with a lease that a later claim superseded: the store wrote nothing of it. The owner must stop
/// processing the partition; whoever claimed it since carries on from the store's checkpoint.
/// </summary>
public sealed class PartitionFencedException(PartitionLease lease, long currentEpoch)
    : Exception($"Partition {lease.Partition} was claimed again (epoch {currentEpoch}) after this owner's claim (epoch {lease.Epoch}): its commit was refused and nothing of it was written; stop processing the partition.")
{
    public PartitionLease Lease { get; } = lease;

    public long CurrentEpoch { get; } = currentEpoch;
}

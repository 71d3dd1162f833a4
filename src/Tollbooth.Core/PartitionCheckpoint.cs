namespace Tollbooth.Core;

/// <summary>
/// What a partition has committed: every log position below <see cref="NextPosition"/> is reflected
/// in the stored rows (I3). <see cref="MaxEventTimeMs"/> is the highest event time seen in those
/// positions, from which the partition watermark is derived; <see cref="long.MinValue"/> when none.
/// <see cref="NextChangeSequence"/> is the sequence number the partition's next published window change gets.
/// </summary>
public readonly record struct PartitionCheckpoint(int Partition, long NextPosition, long MaxEventTimeMs, long NextChangeSequence = 0)
{
    public static PartitionCheckpoint Empty(int partition) => new(partition, 0, long.MinValue);
}

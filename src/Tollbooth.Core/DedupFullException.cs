namespace Tollbooth.Core;

/// <summary>
/// Thrown when a partition's dedup index already remembers its configured maximum of click ids
/// (<c>Processing__DedupIdsMax</c>) and would have to remember one more. Processing of the partition
/// must stop: dropping an id silently would count its repeats twice.
/// </summary>
public sealed class DedupFullException : Exception
{
    public DedupFullException(long idsMax)
        : base(
            $"The dedup index of this partition is full: it already remembers {idsMax:N0} click ids, the limit set by " +
            "Processing__DedupIdsMax. Raise Processing__DedupIdsMax (each id costs at most 32 bytes of memory) or " +
            "shorten dedup_horizon so that ids are forgotten sooner, then restart the processor.")
    {
        IdsMax = idsMax;
    }

    /// <summary>The limit that was reached.</summary>
    public long IdsMax { get; }
}

namespace Tollbooth.Processing;

/// <summary>When a partition processor commits. Timing moves only when rows become visible, never a count (I5).</summary>
public sealed class ProcessorOptions
{
    /// <summary>Commit at least this often while clicks arrive.</summary>
    public int CommitIntervalMs { get; init; } = 250;

    /// <summary>Commit sooner once this many clicks were applied since the last commit.</summary>
    public int CommitEventsMax { get; init; } = 100_000;

    /// <summary>Records read from the log in one batch.</summary>
    public int ReadBatchRecordsMax { get; init; } = 4096;
}

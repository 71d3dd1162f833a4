using Tollbooth.Core;

namespace Tollbooth.Processing;

/// <summary>When a partition processor commits. Timing moves only when rows become visible, never a count (I5).</summary>
public sealed class ProcessorOptions
{
    /// <summary>Commit at least this often while clicks arrive.</summary>
    public int CommitIntervalMs { get; init; } = 250;

    /// <summary>Commit sooner once this many clicks were applied since the last commit.</summary>
    public int CommitEventsMax { get; init; } = 100_000;

    /// <summary>Where dedup snapshots are kept; null to keep none (a restart then re-reads the whole log).</summary>
    public string? DedupSnapshotDirectory { get; init; }

    /// <summary>
    /// A snapshot is written after a commit once this many positions (and at least as many as the index
    /// holds ids, so the cost stays proportional) were committed since the last one, and at a clean stop.
    /// </summary>
    public long DedupSnapshotEveryRecords { get; init; } = 1_000_000;

    /// <summary>Receives each commit's valid clicks by processing time, for the realtime view; null for none (replay).</summary>
    public RecentActivity? Recent { get; init; }

    /// <summary>Processing time for <see cref="Recent"/>.</summary>
    public IClock Clock { get; init; } = SystemClock.Instance;

    /// <summary>
    /// Called on the processor's thread after each commit with the partition and how long the store
    /// transaction took, for metrics; it must be cheap and must not throw. Null for none.
    /// </summary>
    public Action<int, TimeSpan>? Committed { get; init; }

    /// <summary>Operator warnings (one line each).</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>The raw archive every click and its verdict go to; null for none.</summary>
    public IClickArchive? Archive { get; init; }

    /// <summary>Records read from the log in one batch.</summary>
    public int ReadBatchRecordsMax { get; init; } = 4096;

    /// <summary>
    /// The read batch's buffer: at least one record of the largest size ingest writes (a few KiB) must fit. Small in
    /// the simulation tests, whose many short-lived processors would otherwise spend their time clearing 4 MiB buffers.
    /// </summary>
    public int ReadBatchBytesMax { get; init; } = 4 << 20;
}

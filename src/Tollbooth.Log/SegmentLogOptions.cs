namespace Tollbooth.Log;

/// <summary>Settings of the embedded click log, <see cref="SegmentLog"/>, with their defaults in one place.</summary>
public sealed class SegmentLogOptions
{
    /// <summary>The largest segment, pending total and record size the log accepts (offsets stay in int range).</summary>
    public const long BytesMaxLimit = 1L << 30;

    /// <summary>The log's root directory; partition p lives in <c>{Directory}/p{p:D2}</c>.</summary>
    public string Directory { get; init; } = "";

    public int PartitionCount { get; init; } = 8;

    /// <summary>A segment at or above this size is closed before the next group commit writes to it.</summary>
    public long SegmentBytesMax { get; init; } = 64L << 20;

    /// <summary>
    /// A segment that has held records for this long (since it was created, or since this process opened it) is
    /// closed before the next group commit writes to it, so a quiet partition's old records can reach retention
    /// too; null closes segments by size only.
    /// </summary>
    public TimeSpan? SegmentAgeMax { get; init; }

    /// <summary>
    /// The most framed bytes, over all partitions, appended but not yet written to their files. An append that
    /// would go beyond it throws <see cref="LogSaturatedException"/>.
    /// </summary>
    public long PendingBytesMax { get; init; } = 64L << 20;

    /// <summary>The largest payload of one record.</summary>
    public int RecordBytesMax { get; init; } = 1 << 20;

    /// <summary>Where the log's files live: the machine's disks unless a test stands in a simulated file system.</summary>
    public ILogFileSystem FileSystem { get; init; } = RealLogFileSystem.Instance;

    /// <summary>
    /// How long a closed segment is kept after it was last written (its mtime, against <see cref="Time"/>) once every
    /// reader has released it (<see cref="SegmentLog.ReleaseBelow"/>); null keeps every segment forever (the default),
    /// <see cref="TimeSpan.Zero"/> deletes a closed segment as soon as nothing needs it. The active segment is never deleted.
    /// </summary>
    public TimeSpan? Retention { get; init; }

    /// <summary>The clock the age of a segment is measured with; a test moves it instead of sleeping.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Called with a one-line operator message, for example when a torn tail is cut at start-up.</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>
    /// Called on the flusher thread after each data fdatasync with how long it took (once per file of a group
    /// commit, never per record), for metrics; it must be cheap and must not throw.
    /// </summary>
    public Action<TimeSpan>? DataSynced { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("SegmentLogOptions.Directory must name the log's directory.");
        }

        Require(FileSystem is not null, "SegmentLogOptions.FileSystem must be set (RealLogFileSystem.Instance for the machine's disks).");
        Require(Time is not null, "SegmentLogOptions.Time must be set (TimeProvider.System for the machine's clock).");
        Require(SegmentAgeMax is null || SegmentAgeMax.Value > TimeSpan.Zero, $"SegmentAgeMax must be null (close by size only) or positive, not {SegmentAgeMax}.");
        Require(Retention is null || Retention.Value >= TimeSpan.Zero, $"Retention must be null (keep every segment) or at least zero, not {Retention}.");

        Require(PartitionCount is >= 1 and <= 1024, $"PartitionCount must be between 1 and 1024, not {PartitionCount}.");
        Require(SegmentBytesMax is >= 1 and <= BytesMaxLimit, $"SegmentBytesMax must be between 1 and {BytesMaxLimit}, not {SegmentBytesMax}.");
        Require(RecordBytesMax >= 1 && RecordBytesMax <= BytesMaxLimit, $"RecordBytesMax must be between 1 and {BytesMaxLimit}, not {RecordBytesMax}.");
        Require(
            PendingBytesMax >= FrameHeader.Size + (long)RecordBytesMax && PendingBytesMax <= BytesMaxLimit,
            $"PendingBytesMax must hold one framed record of RecordBytesMax ({FrameHeader.Size + (long)RecordBytesMax} bytes) and be at most {BytesMaxLimit}, not {PendingBytesMax}.");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }
}

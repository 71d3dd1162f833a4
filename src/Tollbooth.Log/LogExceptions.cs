namespace Tollbooth.Log;

/// <summary>The log cannot take more now (pending bytes at their maximum): answer 503 and let the client retry.</summary>
public sealed class LogSaturatedException(string message) : Exception(message);

/// <summary>
/// The disk of the log is full (ENOSPC or EDQUOT on a segment write): this append was not stored and holds no
/// position. Not fail-stop: later appends are tried again and succeed once there is space. Answer 503.
/// </summary>
public sealed class LogDiskFullException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A commit failed (for example fsync returned an error). The log is failed for good: fail-stop, never retried.</summary>
public sealed class LogFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A record before the last commit does not verify: start-up stops rather than skip it.</summary>
public sealed class CorruptLogException(string file, long offset, string message)
    : Exception($"{message} (file {file}, offset {offset}). The log is damaged before its tail; restore the data directory from a copy, or move the damaged segment away to start without it.")
{
    public string File { get; } = file;

    public long Offset { get; } = offset;
}

/// <summary>
/// A reader was asked for records that retention deleted: nothing needed them any more when their segment went. Never
/// skipped silently; whoever still wanted them must rebuild from elsewhere (the raw archive).
/// </summary>
public sealed class LogRecordsDeletedException(int partition, long position, long firstPosition)
    : Exception(
        $"Partition {partition} of the click log starts at position {firstPosition}: the records before it were deleted by the log's retention " +
        $"(Log:RetentionHours) once nothing needed them, so no reader can start at position {position}.")
{
    public int Partition { get; } = partition;

    public long Position { get; } = position;

    public long FirstPosition { get; } = firstPosition;
}

/// <summary>
/// A log on other machines (Kafka) did not acknowledge this append in time, or refused it: some of its records may be
/// stored, none is promised. Not fail-stop: answer 503; the client's resend is counted once (same click ids).
/// </summary>
public sealed class LogUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

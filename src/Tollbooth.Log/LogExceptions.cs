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

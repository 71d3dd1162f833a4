using System.Diagnostics;

namespace Tollbooth.Log;

/// <summary>The flusher thread: takes what is pending in every partition and commits it as one group.</summary>
public sealed partial class SegmentLog
{
    private LogPartition[]? _round;
    private Action<string>? _beforeDataSyncForTests;
    private bool _diskFull;

    /// <summary>Test hook: while reset, the flusher takes nothing, so appends stay pending.</summary>
    internal ManualResetEventSlim FlusherGate { get; } = new(true);

    /// <summary>Test hook: called with the file's path before each data fdatasync; throw to simulate a failed fsync.</summary>
    internal Action<string>? BeforeDataSyncForTests
    {
        get => Volatile.Read(ref _beforeDataSyncForTests);
        set => Volatile.Write(ref _beforeDataSyncForTests, value);
    }

    /// <summary>True while the last group commit found the disk full (appends are refused, and tried again).</summary>
    public bool IsDiskFull => Volatile.Read(ref _diskFull);

    /// <summary>
    /// Test hook for a log opened without its flusher thread (<see cref="OpenWithoutFlusherForTests"/>): one group
    /// commit of everything pending, on the caller's thread, so a simulation runs the same way for the same seed.
    /// Returns false when nothing was pending or the log has failed.
    /// </summary>
    internal bool CommitPendingForTests()
    {
        Debug.Assert(_flusher is null);
        if (IsFailed)
        {
            return false;
        }

        try
        {
            return CommitRound();
        }
        catch (Exception exception)
        {
            Fail(exception);
            return false;
        }
    }

    private void FlushLoop()
    {
        try
        {
            while (true)
            {
                // Stopping is read before taking: an append that got in before Dispose set it is in this take.
                bool stopping = Volatile.Read(ref _stopping);
                if (!stopping)
                {
                    _work.Wait();
                    _work.Reset();
                    stopping = Volatile.Read(ref _stopping);
                }

                if (Volatile.Read(ref _failure) is { } failed)
                {
                    // Retention failed the log from its own thread: fault what is pending here, where it is safe.
                    FailPartitions(failed);
                    return;
                }

                FlusherGate.Wait();
                if (!CommitRound() && stopping)
                {
                    return;
                }
            }
        }
        catch (Exception exception)
        {
            Fail(exception);
        }
    }

    /// <summary>Takes what every partition has pending and commits it; false when nothing was pending.</summary>
    private bool CommitRound()
    {
        _round ??= new LogPartition[_partitions.Length];
        int taken = TakeAll(_round);
        if (taken > 0)
        {
            Commit(_round, taken);
        }

        return taken > 0;
    }

    private int TakeAll(LogPartition[] round)
    {
        int taken = 0;
        foreach (LogPartition partition in _partitions)
        {
            if (partition.TakePending())
            {
                round[taken++] = partition;
            }
        }

        return taken;
    }

    /// <summary>
    /// One group commit: every partition's bytes are written first, then each written file is fdatasynced,
    /// and only then do durable ends move and appends complete, so an append is acknowledged only when durable.
    /// A partition whose write found the disk full has its batch refused; the others commit as usual.
    /// </summary>
    private void Commit(LogPartition[] round, int taken)
    {
        int written = WriteAll(round, taken);
        if (Failpoints.Enabled)
        {
            Failpoints.Hit(Failpoints.LogAfterWriteBeforeFsync);
        }

        for (int i = 0; i < written; i++)
        {
            BeforeDataSyncForTests?.Invoke(round[i].ActivePath);
            long started = Stopwatch.GetTimestamp();
            round[i].SyncTaken();
            Interlocked.Increment(ref _fsyncCount);
            _options.DataSynced?.Invoke(Stopwatch.GetElapsedTime(started));
        }

        if (Failpoints.Enabled)
        {
            Failpoints.Hit(Failpoints.LogAfterFsyncBeforePublish);
        }

        for (int i = 0; i < written; i++)
        {
            round[i].PublishTaken();
        }
    }

    /// <summary>Writes each taken batch; moves the partitions written to the front of the round and returns their count.</summary>
    private int WriteAll(LogPartition[] round, int taken)
    {
        int written = 0;
        for (int i = 0; i < taken; i++)
        {
            LogPartition partition = round[i];
            int bytes = partition.TakenBytes;
            bool stored = partition.TryWriteTaken();
            ReleasePendingBytes(bytes);
            if (stored)
            {
                round[written++] = partition;
            }
            else
            {
                partition.RefuseTaken(DiskFull(partition));
            }
        }

        if (written > 0 && _diskFull)
        {
            Volatile.Write(ref _diskFull, false);
            _options.Warn?.Invoke("The click log's disk has space again: appends are stored and acknowledged again.");
        }

        return written;
    }

    /// <summary>
    /// A full disk is an operating error, not a failure of the device: the batch was cut back out of the file, its
    /// appends are refused, and later appends are tried again, so the log resumes without a restart once space is
    /// freed. Warns once per episode, never per batch.
    /// </summary>
    private LogDiskFullException DiskFull(LogPartition partition)
    {
        string message =
            $"The click log's disk is full (writing {partition.ActivePath}): this append was not stored. " +
            "Free space on that device; appends are tried again and succeed once there is room.";
        if (!_diskFull)
        {
            Volatile.Write(ref _diskFull, true);
            _options.Warn?.Invoke(message);
        }

        return new LogDiskFullException(message);
    }

    /// <summary>
    /// Fail-stop, for a failed fsync or fdatasync (whatever its errno, ENOSPC included), for a failed cut back after a
    /// full disk, and for any write error other than a full disk (EIO). After a failed fsync the kernel may have dropped
    /// the dirty pages and cleared the error, so a retry could "succeed" without the data on disk. Nothing partial is
    /// ever acknowledged, and recovery at the next start cuts any partial frame as a torn tail.
    /// </summary>
    private void Fail(Exception cause)
    {
        LogFailedException failure = NewFailure(cause);
        Volatile.Write(ref _failure, failure);
        FailPartitions(failure);
        _options.Warn?.Invoke(failure.Message);
    }

    /// <summary>
    /// Fail-stop from the retention thread: appends are refused at once, and the flusher, woken, faults what is
    /// pending and stops (the partitions' taken batches are the flusher's alone). Without a flusher (tests) the
    /// caller's thread is the flusher's stand-in and fails the partitions itself.
    /// </summary>
    private LogFailedException FailFromRetention(Exception cause)
    {
        if (_flusher is null)
        {
            Fail(cause);
            return Volatile.Read(ref _failure)!;
        }

        LogFailedException failure = NewFailure(cause);
        LogFailedException? earlier = Interlocked.CompareExchange(ref _failure, failure, null);
        if (earlier is not null)
        {
            return earlier;
        }

        _options.Warn?.Invoke(failure.Message);
        _work.Set();
        return failure;
    }

    private static LogFailedException NewFailure(Exception cause)
    {
        return new LogFailedException(
            $"The click log stopped taking appends after a failed write or fsync: {cause.Message} " +
            "Appends not acknowledged were not committed; fix the disk, then restart so recovery checks the log.",
            cause);
    }

    private void FailPartitions(LogFailedException failure)
    {
        foreach (LogPartition partition in _partitions)
        {
            partition.Fail(failure);
        }
    }
}

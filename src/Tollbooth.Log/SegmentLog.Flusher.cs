using System.Diagnostics;

namespace Tollbooth.Log;

/// <summary>The flusher thread: takes what is pending in every partition and commits it as one group.</summary>
public sealed partial class SegmentLog
{
    private LogPartition[]? _round;
    private Action<string>? _beforeDataSyncForTests;

    /// <summary>Test hook: while reset, the flusher takes nothing, so appends stay pending.</summary>
    internal ManualResetEventSlim FlusherGate { get; } = new(true);

    /// <summary>Test hook: called with the file's path before each data fdatasync; throw to simulate a failed fsync.</summary>
    internal Action<string>? BeforeDataSyncForTests
    {
        get => Volatile.Read(ref _beforeDataSyncForTests);
        set => Volatile.Write(ref _beforeDataSyncForTests, value);
    }

    private void FlushLoop()
    {
        _round = new LogPartition[_partitions.Length];
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

                FlusherGate.Wait();
                int taken = TakeAll(_round);
                if (taken > 0)
                {
                    Commit(_round, taken);
                }
                else if (stopping)
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
    /// </summary>
    private void Commit(LogPartition[] round, int taken)
    {
        for (int i = 0; i < taken; i++)
        {
            ReleasePendingBytes(round[i].WriteTaken());
        }

        if (Failpoints.Enabled)
        {
            Failpoints.Hit(Failpoints.LogAfterWriteBeforeFsync);
        }

        for (int i = 0; i < taken; i++)
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

        for (int i = 0; i < taken; i++)
        {
            round[i].PublishTaken();
        }
    }

    /// <summary>
    /// Fail-stop, for a failed fsync and for a failed write alike (EIO, ENOSPC). After a failed fsync the kernel may
    /// have dropped the dirty pages and cleared the error, so a retry could "succeed" without the data on disk.
    /// For ENOSPC the log could in principle cut the file back and go on, but later appends already hold positions
    /// after the failed batch, so the log stops as well: nothing partial is ever acknowledged, and recovery at the
    /// next start cuts any partial frame as a torn tail.
    /// </summary>
    private void Fail(Exception cause)
    {
        var failure = new LogFailedException(
            $"The click log stopped taking appends after a failed write or fsync: {cause.Message} " +
            "Appends not acknowledged were not committed; fix the disk, then restart so recovery checks the log.",
            cause);
        Volatile.Write(ref _failure, failure);
        foreach (LogPartition partition in _partitions)
        {
            partition.Fail(failure);
        }

        _options.Warn?.Invoke(failure.Message);
    }
}

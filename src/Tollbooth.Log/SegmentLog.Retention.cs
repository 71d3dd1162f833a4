namespace Tollbooth.Log;

/// <summary>
/// Retention: a closed segment is deleted once every one of its records is below the position its partition's
/// readers released (<see cref="ReleaseBelow"/>) and it was last written at least <see cref="SegmentLogOptions.Retention"/>
/// ago. Oldest first, one unlink and one directory fsync per segment, on a thread of its own so group commits never
/// wait for it. Only this process's readers release positions, so a command that counts nothing (dump) deletes nothing.
/// </summary>
public sealed partial class SegmentLog
{
    /// <summary>How often the retention thread looks for segments that have aged past the retention, when not woken sooner.</summary>
    private static readonly TimeSpan RetentionPassInterval = TimeSpan.FromMinutes(1);

    private readonly ManualResetEventSlim _retentionWake = new(false);
    private readonly Lock _retentionRoot = new();
    private Thread? _retentionThread;
    private long _segmentsDeleted;

    /// <summary>Segment files deleted by retention since the log was opened.</summary>
    public long SegmentsDeleted => Interlocked.Read(ref _segmentsDeleted);

    /// <summary>
    /// The first position the partition still holds: 0 until retention deleted its oldest segments, then the first
    /// position of its oldest segment left. A reader cannot start below it (<see cref="LogRecordsDeletedException"/>).
    /// </summary>
    public long FirstPosition(int partition)
    {
        return PartitionAt(partition).FirstPosition;
    }

    /// <summary>
    /// Says that nothing will read the partition's positions below <paramref name="position"/> again, now or after a
    /// restart; retention may then delete the segments wholly below it. Lower values than an earlier call are ignored.
    /// </summary>
    public void ReleaseBelow(int partition, long position)
    {
        LogPartition target = PartitionAt(partition);
        if (target.Release(position) && _options.Retention is not null && target.ReleasedOldest() is not null)
        {
            _retentionWake.Set();
        }
    }

    /// <summary>
    /// One retention pass over every partition (the retention thread runs one a minute, and when a release lets a
    /// segment go): deletes, oldest first, each closed segment whose records are all released and that was last
    /// written at least the retention ago. Each unlink is followed by a checked fsync of the directory, so after a
    /// power loss at most the one segment being deleted can come back, still right before the next: recovery then
    /// finds a contiguous log and keeps it. Any failure (a failed fsync above all) is fail-stop, as for a commit.
    /// Returns the segments deleted; nothing when retention is off.
    /// </summary>
    public int DeleteReleasedSegments()
    {
        if (_options.Retention is not TimeSpan retention)
        {
            return 0;
        }

        lock (_retentionRoot)
        {
            LogFailedException? failed = Volatile.Read(ref _failure);
            if (failed is not null)
            {
                ThrowFailed(failed);
            }

            DateTimeOffset cutoff = _options.Time.GetUtcNow() - retention;
            int deleted = 0;
            try
            {
                foreach (LogPartition partition in _partitions)
                {
                    deleted += DeleteReleasedSegments(partition, retention, cutoff);
                }
            }
            catch (Exception exception)
            {
                LogFailedException failure = FailFromRetention(exception);
                throw new LogFailedException(failure.Message, exception);
            }

            return deleted;
        }
    }

    private int DeleteReleasedSegments(LogPartition partition, TimeSpan retention, DateTimeOffset cutoff)
    {
        ILogFileSystem files = _options.FileSystem;
        int deleted = 0;
        while (partition.ReleasedOldest() is { } oldest)
        {
            // Oldest first: a younger segment is never deleted while an older one stays.
            if (retention > TimeSpan.Zero && files.LastWriteTime(oldest.Path) > cutoff)
            {
                break;
            }

            partition.DropOldest(oldest);
            files.Delete(oldest.Path);
            if (Failpoints.Enabled)
            {
                Failpoints.Hit(Failpoints.LogSegmentDelete);
            }

            files.SyncDirectory(partition.Directory);
            deleted++;
            Interlocked.Increment(ref _segmentsDeleted);
        }

        return deleted;
    }

    private void StartRetention()
    {
        if (_options.Retention is null)
        {
            return;
        }

        _retentionThread = new Thread(RetentionLoop) { IsBackground = true, Name = "tollbooth-log-retention" };
        _retentionThread.Start();
    }

    private void StopRetention()
    {
        _retentionWake.Set();
        _retentionThread?.Join();
    }

    private void RetentionLoop()
    {
        while (!Volatile.Read(ref _stopping))
        {
            _retentionWake.Wait(RetentionPassInterval);
            _retentionWake.Reset();
            if (Volatile.Read(ref _stopping))
            {
                return;
            }

            try
            {
                DeleteReleasedSegments();
            }
            catch (LogFailedException)
            {
                // The log is failed (fail-stop) and said why; appends are refused from now on.
                return;
            }
        }
    }
}

using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Processing;

/// <summary>
/// Reads one partition of the log in order on its own thread, applies every click to the
/// partition's <see cref="PartitionAggregator"/>, and commits the changed rows together with the
/// next position (I3). On start it resumes from the committed checkpoint: positions below it are
/// re-read only to rebuild the dedup index and the watermark (I4), never counted again.
/// </summary>
public sealed class PartitionProcessor : IDisposable
{
    private readonly IClickLog _log;
    private readonly IAggregateStore _store;
    private readonly AggregatorOptions _aggregatorOptions;
    private readonly ProcessorOptions _options;
    private readonly Action<int, Exception> _onFailure;
    private readonly CancellationTokenSource _stop = new();
    private readonly ManualResetEventSlim _recovered = new();

    // Verdicts of the clicks applied since the last commit (processor thread only), and of every click this
    // process committed (written by the processor thread at commit, read by anyone): counters, not per-click work.
    private readonly long[] _verdictsApplied = new long[VerdictCount];
    private readonly long[] _verdictsCommitted = new long[VerdictCount];
    private Thread? _thread;
    private long _committedPosition;
    private long _compactionsSeen; // for the dedup.after_compaction failpoint only
    private long _watermarkMs = long.MinValue;
    private long _maxEventTimeMs = long.MinValue;
    private long _snapshotPosition;
    private long _lastActiveAtMs = long.MinValue;
    private PartitionLease _lease;

    // Positions at or past this go to the archive; those below it are archived already.
    private long _archiveFrom = long.MaxValue;

    // Every position below _archivedEnd is archived durably (long.MaxValue without an archive); _archiveAddedEnd is
    // the end of what was added, archived at the next flush.
    private long _archivedEnd = long.MaxValue;
    private long _archiveAddedEnd;

    /// <summary>The number of <see cref="Verdict"/> values (0, 1, ...), for per-verdict counters.</summary>
    public static readonly int VerdictCount = Enum.GetValues<Verdict>().Length;

    public PartitionProcessor(
        int partition,
        IClickLog log,
        IAggregateStore store,
        AggregatorOptions aggregatorOptions,
        ProcessorOptions options,
        Action<int, Exception> onFailure)
    {
        Partition = partition;
        _log = log;
        _store = store;
        _aggregatorOptions = aggregatorOptions;
        _options = options;
        _onFailure = onFailure;
    }

    public int Partition { get; }

    /// <summary>Every position below this is reflected in the stored rows.</summary>
    public long CommittedPosition => Volatile.Read(ref _committedPosition);

    /// <summary>The partition watermark as of the last commit, epoch ms; <see cref="long.MinValue"/> before any click.</summary>
    public long WatermarkMs => Volatile.Read(ref _watermarkMs);

    public long MaxEventTimeMs => Volatile.Read(ref _maxEventTimeMs);

    /// <summary>Processing time of the last commit that counted new clicks; <see cref="long.MinValue"/> before one.</summary>
    public long LastActiveAtMs => Volatile.Read(ref _lastActiveAtMs);

    public bool IsRecovered => _recovered.IsSet;

    /// <summary>Clicks with this verdict committed by this processor since the process started (replays of positions below the checkpoint not included).</summary>
    public long CommittedVerdicts(Verdict verdict) => Volatile.Read(ref _verdictsCommitted[(int)verdict]);

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = $"tollbooth-partition-{Partition:D2}" };
        _thread.Start();
    }

    /// <summary>Blocks until recovery finished (or the deadline passed); true when recovered.</summary>
    public bool WaitRecovered(TimeSpan timeout) => _recovered.Wait(timeout);

    /// <summary>Asks the processor to commit what it applied and stop; waits for its thread.</summary>
    public void Stop()
    {
        _stop.Cancel();
        _thread?.Join();
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
        _recovered.Dispose();
    }

    private void Run()
    {
        try
        {
            (PartitionAggregator aggregator, ILogReader recovered) = Recover();
            using ILogReader reader = recovered;
            _recovered.Set();
            ProcessUntilStopped(aggregator, reader);
            WriteSnapshotIfBehind(aggregator, minimumRecords: 1);
            FlushArchive();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            _onFailure(Partition, exception);
        }
    }

    private (PartitionAggregator Aggregator, ILogReader Reader) Recover()
    {
        // Claimed before anything is read: an earlier owner still running can commit nothing from here on, so the
        // checkpoint read next is the one this processor continues from.
        _lease = _store.Claim(Partition);
        PartitionCheckpoint checkpoint = _store.ReadCheckpoint(Partition);
        long durableEnd = _log.DurableEnd(Partition);
        if (checkpoint.NextPosition > durableEnd)
        {
            throw new InvalidOperationException(
                $"Partition {Partition}: the store has counted up to position {checkpoint.NextPosition} but the log ends at {durableEnd}. " +
                "The log lost acknowledged records or belongs to another store; restore the data directory from one copy.");
        }

        if (_options.Archive is { } archive)
        {
            _archiveFrom = archive.ArchivedEnd(Partition);
            _archivedEnd = _archiveFrom;
            _archiveAddedEnd = _archiveFrom;
        }

        PartitionAggregator aggregator = Restore(checkpoint);
        long first = _log.FirstPosition(Partition);
        if (_snapshotPosition < first)
        {
            throw new InvalidOperationException(
                $"Partition {Partition}: the dedup index must be rebuilt from position {_snapshotPosition} (its snapshot is missing, damaged or ahead of the store), " +
                $"but the log starts at position {first}: older segments were deleted by Log:RetentionHours. " +
                "Restore the data directory (store, dedup snapshots and log together) from one copy.");
        }

        ILogReader reader = _log.OpenReader(Partition, _snapshotPosition);
        var batch = new LogReadBatch(_options.ReadBatchRecordsMax);
        int count = 0;
        while (reader.Position < checkpoint.NextPosition)
        {
            count = reader.Read(batch);
            if (count == 0)
            {
                throw new InvalidOperationException($"Partition {Partition}: the log gave no record at position {reader.Position}, below its durable end {durableEnd}.");
            }

            for (int i = 0; i < count && batch.FirstPosition + i < checkpoint.NextPosition; i++)
            {
                long position = batch.FirstPosition + i;
                ReadOnlySpan<byte> record = batch[i];
                ClickOutcome outcome = aggregator.Remember(record, position);
                Archive(position, record, outcome);
                if (position == checkpoint.NextPosition - 1)
                {
                    CheckAgreesWithStore(aggregator, checkpoint);
                }
            }
        }

        // Rows must be resident before any click past the checkpoint is applied, or a fresh row would
        // overwrite the stored one.
        aggregator.LoadResidentRows(fromMinute => _store.ReadRows(Partition, fromMinute), checkpoint.NextChangeSequence);
        Publish(checkpoint, aggregator);
        if (reader.Position > checkpoint.NextPosition)
        {
            // The last recovery batch ran past the checkpoint: apply and commit the rest of it now.
            for (int i = (int)(checkpoint.NextPosition - batch.FirstPosition); i < count; i++)
            {
                Apply(aggregator, batch[i], batch.FirstPosition + i);
            }

            Commit(aggregator, reader.Position);
        }

        ReleaseLog();
        return (aggregator, reader);
    }

    // A dedup snapshot at or below the checkpoint saves re-reading the log before it; any other is ignored.
    private PartitionAggregator Restore(PartitionCheckpoint checkpoint)
    {
        var rows = new StoreRowSource(_store, Partition);
        _snapshotPosition = 0;
        if (_options.DedupSnapshotDirectory is not string directory)
        {
            return new PartitionAggregator(Partition, _aggregatorOptions, rows);
        }

        var snapshot = DedupSnapshotFile.TryRead(directory, Partition, _aggregatorOptions.DedupIdsMax, out string? problem);
        // Re-reading from the snapshot must also reach every position the archive still lacks.
        bool usable = snapshot is { } s && s.Position <= checkpoint.NextPosition && s.Position <= _archiveFrom &&
            (s.Position < checkpoint.NextPosition || s.MaxEventTimeMs == checkpoint.MaxEventTimeMs);
        if (!usable)
        {
            if (problem is not null)
            {
                _options.Warn?.Invoke($"Partition {Partition}: dedup snapshot ignored, the index is rebuilt from the log: {problem}.");
            }

            return new PartitionAggregator(Partition, _aggregatorOptions, rows);
        }

        _snapshotPosition = snapshot!.Value.Position;
        return new PartitionAggregator(Partition, _aggregatorOptions, rows, snapshot.Value.Index, snapshot.Value.MaxEventTimeMs, snapshot.Value.Rates);
    }

    private void WriteSnapshotIfBehind(PartitionAggregator aggregator, long minimumRecords)
    {
        long position = CommittedPosition;
        if (_options.DedupSnapshotDirectory is string directory && position - _snapshotPosition >= minimumRecords)
        {
            if (Failpoints.Enabled)
            {
                Failpoints.Hit(Failpoints.ProcessorAfterCommitBeforeSnapshot);
            }

            // The archive must hold every position below the snapshot's: a restart re-reads only after it.
            FlushArchive();
            DedupSnapshotFile.Write(directory, Partition, position, MaxEventTimeMs, aggregator.Dedup, aggregator.Rates);
            _snapshotPosition = position;
        }
    }

    private void CheckAgreesWithStore(PartitionAggregator aggregator, PartitionCheckpoint checkpoint)
    {
        if (aggregator.MaxEventTimeMs != checkpoint.MaxEventTimeMs)
        {
            throw new InvalidOperationException(
                $"Partition {Partition}: the log up to position {checkpoint.NextPosition} gives a highest event time of {aggregator.MaxEventTimeMs} ms, " +
                $"but the store committed {checkpoint.MaxEventTimeMs} ms. The store and the log disagree; rebuild the store with `tollbooth replay`.");
        }
    }

    private void ProcessUntilStopped(PartitionAggregator aggregator, ILogReader reader)
    {
        var batch = new LogReadBatch(_options.ReadBatchRecordsMax);
        var sinceCommit = Stopwatch.StartNew();
        int appliedSinceCommit = 0;
        while (!_stop.IsCancellationRequested)
        {
            int count = reader.Read(batch);
            for (int i = 0; i < count; i++)
            {
                Apply(aggregator, batch[i], batch.FirstPosition + i);
            }

            appliedSinceCommit += count;
            bool idle = count == 0;
            if (appliedSinceCommit > 0 &&
                (idle || appliedSinceCommit >= _options.CommitEventsMax || sinceCommit.ElapsedMilliseconds >= _options.CommitIntervalMs))
            {
                Commit(aggregator, reader.Position);
                appliedSinceCommit = 0;
                sinceCommit.Restart();
            }

            if (count == 0)
            {
                WaitForRecords(reader.Position);
            }
        }

        if (appliedSinceCommit > 0)
        {
            Commit(aggregator, reader.Position);
        }
    }

    private void WaitForRecords(long position)
    {
        // A token per wait, so an idle partition leaves no registration behind on the log's signal.
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        wait.CancelAfter(_options.CommitIntervalMs);
        try
        {
            // GetResult, not Wait: a failed log surfaces as itself, not wrapped in an AggregateException.
            _log.WaitForDurableAsync(Partition, position, wait.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested)
        {
        }
    }

    private void Commit(PartitionAggregator aggregator, long nextPosition)
    {
        List<RecentClicks>? recent = _options.Recent is null ? null : new();
        List<WindowRow> rows = aggregator.TakeChangedRows(recent);
        var checkpoint = new PartitionCheckpoint(Partition, nextPosition, aggregator.MaxEventTimeMs, aggregator.NextChangeSequence);
        long started = Stopwatch.GetTimestamp();
        _store.Commit(_lease, checkpoint, rows, aggregator.TakeChanges());
        TimeSpan took = Stopwatch.GetElapsedTime(started);
        PublishVerdicts();
        _options.Committed?.Invoke(Partition, took);
        if (nextPosition > CommittedPosition)
        {
            Volatile.Write(ref _lastActiveAtMs, _options.Clock.UtcNowMs);
        }
        if (recent is not null)
        {
            _options.Recent!.Record(_options.Clock.UtcNowMs, recent);
        }
        aggregator.EvictSettledRows();
        if (Failpoints.Enabled && aggregator.DedupCompactions != _compactionsSeen)
        {
            _compactionsSeen = aggregator.DedupCompactions;
            Failpoints.Hit(Failpoints.DedupAfterCompaction);
        }

        Publish(checkpoint, aggregator);
        WriteSnapshotIfBehind(aggregator, Math.Max(_options.DedupSnapshotEveryRecords, aggregator.Dedup.Count));
        if (_options.Archive is { } archive && archive.FlushDue(Partition))
        {
            FlushArchive();
        }

        ReleaseLog();
    }

    private void FlushArchive()
    {
        if (_options.Archive is { } archive)
        {
            archive.Flush(Partition);
            _archivedEnd = Math.Max(_archivedEnd, _archiveAddedEnd);
        }
    }

    /// <summary>
    /// Tells the log the lowest position this partition may still read: a restart re-reads from the dedup snapshot's
    /// position, the store's checkpoint and the archive's end must be reached again, so segments wholly below all
    /// three may go (per Log:RetentionHours). Without dedup snapshots that is 0: a restart re-reads the whole log.
    /// </summary>
    private void ReleaseLog()
    {
        _log.ReleaseBelow(Partition, Math.Min(Math.Min(CommittedPosition, _snapshotPosition), _archivedEnd));
    }

    private void Apply(PartitionAggregator aggregator, ReadOnlySpan<byte> record, long position)
    {
        ClickOutcome outcome = aggregator.Apply(record, position);
        _verdictsApplied[(int)outcome.Verdict]++;
        Archive(position, record, outcome);
    }

    private void Archive(long position, ReadOnlySpan<byte> record, ClickOutcome outcome)
    {
        if (position >= _archiveFrom)
        {
            _options.Archive!.Add(Partition, position, record, outcome);
            _archiveAddedEnd = position + 1;
        }
    }

    /// <summary>Moves the verdicts applied since the last commit into the committed counters.</summary>
    private void PublishVerdicts()
    {
        for (int verdict = 0; verdict < VerdictCount; verdict++)
        {
            long applied = _verdictsApplied[verdict];
            if (applied != 0)
            {
                Volatile.Write(ref _verdictsCommitted[verdict], _verdictsCommitted[verdict] + applied);
                _verdictsApplied[verdict] = 0;
            }
        }
    }

    private void Publish(PartitionCheckpoint checkpoint, PartitionAggregator aggregator)
    {
        Volatile.Write(ref _maxEventTimeMs, checkpoint.MaxEventTimeMs);
        Volatile.Write(ref _watermarkMs, aggregator.WatermarkMs);
        Volatile.Write(ref _committedPosition, checkpoint.NextPosition);
    }
}

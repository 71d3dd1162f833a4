using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Processing;

/// <summary>
/// One partition's processing as named steps, driven by one caller at a time: <see cref="Recover"/> (claim the
/// partition, read the checkpoint, rebuild the dedup index and the watermark from the log below it, I4, and load the
/// rows a restart holds), <see cref="ApplyAvailable"/> (one batch of durable records decided and counted), and
/// <see cref="Commit"/> (the changed rows and the next position in one fenced store transaction, I3). The
/// <see cref="PartitionProcessor"/> drives it on a thread of its own, with timers; the simulation tests drive
/// several of them step by step, from a seed. Its published figures (positions, watermark, verdicts) may be read
/// from any thread.
/// </summary>
public sealed class PartitionWork : IDisposable
{
    private readonly IClickLog _log;
    private readonly IPartitionStore _store;
    private readonly AggregatorOptions _aggregatorOptions;
    private readonly ProcessorOptions _options;

    // Verdicts of the clicks applied since the last commit (driver's thread only), and of every click this
    // work committed (written at commit, read by anyone): counters, not per-click work.
    private readonly long[] _verdictsApplied = new long[PartitionProcessor.VerdictCount];
    private readonly long[] _verdictsCommitted = new long[PartitionProcessor.VerdictCount];
    private PartitionAggregator? _aggregator;
    private ILogReader? _reader;
    private LogReadBatch? _batch;
    private int _appliedSinceCommit;
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

    public PartitionWork(int partition, IClickLog log, IPartitionStore store, AggregatorOptions aggregatorOptions, ProcessorOptions options)
    {
        Partition = partition;
        _log = log;
        _store = store;
        _aggregatorOptions = aggregatorOptions;
        _options = options;
    }

    public int Partition { get; }

    /// <summary>The claim this work commits with (set by <see cref="Recover"/>).</summary>
    public PartitionLease Lease => _lease;

    /// <summary>Every position below this is reflected in the stored rows.</summary>
    public long CommittedPosition => Volatile.Read(ref _committedPosition);

    /// <summary>The partition watermark as of the last commit, epoch ms; <see cref="long.MinValue"/> before any click.</summary>
    public long WatermarkMs => Volatile.Read(ref _watermarkMs);

    public long MaxEventTimeMs => Volatile.Read(ref _maxEventTimeMs);

    /// <summary>Processing time of the last commit that counted new clicks; <see cref="long.MinValue"/> before one.</summary>
    public long LastActiveAtMs => Volatile.Read(ref _lastActiveAtMs);

    /// <summary>The position of the next record <see cref="ApplyAvailable"/> reads.</summary>
    public long ReadPosition => _reader?.Position ?? 0;

    /// <summary>Records applied since the last commit: what a commit now would count.</summary>
    public int AppliedSinceCommit => _appliedSinceCommit;

    /// <summary>Clicks with this verdict committed by this work (replays of positions below the checkpoint not included).</summary>
    public long CommittedVerdicts(Verdict verdict) => Volatile.Read(ref _verdictsCommitted[(int)verdict]);

    /// <summary>
    /// Claims the partition (an earlier owner still running can commit nothing from here on, so the checkpoint read
    /// next is the one this work continues from), then rebuilds what a processor holds from the store and the log.
    /// </summary>
    public void Recover()
    {
        if (_aggregator is not null)
        {
            throw new InvalidOperationException($"Partition {Partition} is recovered already.");
        }

        _lease = _store.Claim(Partition);
        (_aggregator, _reader) = RecoverFromCheckpoint();
    }

    /// <summary>Reads and applies one batch of durable records; returns how many (0 when none is durable yet).</summary>
    public int ApplyAvailable()
    {
        PartitionAggregator aggregator = Recovered();
        _batch ??= new LogReadBatch(_options.ReadBatchRecordsMax, _options.ReadBatchBytesMax);
        int count = _reader!.Read(_batch);
        for (int i = 0; i < count; i++)
        {
            Apply(aggregator, _batch[i], _batch.FirstPosition + i);
        }

        _appliedSinceCommit += count;
        return count;
    }

    /// <summary>
    /// Commits what was applied, up to <see cref="ReadPosition"/>; throws <see cref="PartitionFencedException"/>, with
    /// nothing written, when another owner claimed the partition since <see cref="Recover"/>.
    /// </summary>
    public void Commit() => Commit(Recovered(), ReadPosition);

    /// <summary>On a clean stop, after the last commit: the dedup snapshot brought up to date and the archive flushed.</summary>
    public void Finish()
    {
        WriteSnapshotIfBehind(Recovered(), minimumRecords: 1);
        FlushArchive();
    }

    public void Dispose()
    {
        _reader?.Dispose();
        _reader = null;
    }

    private PartitionAggregator Recovered() =>
        _aggregator ?? throw new InvalidOperationException($"Partition {Partition} is not recovered: call Recover first.");

    private (PartitionAggregator Aggregator, ILogReader Reader) RecoverFromCheckpoint()
    {
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
        var batch = new LogReadBatch(_options.ReadBatchRecordsMax, _options.ReadBatchBytesMax);
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

    private void Commit(PartitionAggregator aggregator, long nextPosition)
    {
        List<RecentClicks>? recent = _options.Recent is null ? null : new();
        List<WindowRow> rows = aggregator.TakeChangedRows(recent);
        var checkpoint = new PartitionCheckpoint(Partition, nextPosition, aggregator.MaxEventTimeMs, aggregator.NextChangeSequence);
        long started = Stopwatch.GetTimestamp();
        _store.Commit(_lease, checkpoint, rows, aggregator.TakeChanges());
        _appliedSinceCommit = 0;
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
        for (int verdict = 0; verdict < PartitionProcessor.VerdictCount; verdict++)
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

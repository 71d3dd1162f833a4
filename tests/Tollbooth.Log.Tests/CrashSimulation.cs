using System.Buffers.Binary;

namespace Tollbooth.Log.Tests;

/// <summary>
/// One seed of the crash simulation: the real <see cref="SegmentLog"/> (its commit code run on this thread, so a
/// seed replays exactly) over a <see cref="SimulatedFileSystem"/>, through several lives. Each life recovers the log,
/// checks it against the model, then appends, commits and reads at random while faults fire (a crash at a random
/// file-system operation, ENOSPC at the Nth write or while the disk is full, EIO or ENOSPC from fdatasync, EIO from a
/// directory fsync), and ends in a crash, a power loss or a clean close. The model per partition: the records known
/// durable (acknowledged, or shown by a recovery) by position, the records that may be there (their append failed with
/// the log), and everything else, which must never appear (refused for a full disk, never appended). Retention
/// (on for most seeds, deleting as soon as nothing needs a segment) runs at random with a released position at or below
/// the records known durable and the partition's reader: after any recovery the partition must start at or below the
/// highest position released, and hold every record from there on.
/// </summary>
internal sealed class CrashSimulation
{
    private const string Root = "/sim";
    private const int RecordBytesMax = 512;

    private readonly Random _random;
    private readonly SimulatedFileSystem _files;
    private readonly SegmentLogOptions _options;
    private readonly PartitionModel[] _model;
    private readonly List<Outstanding> _outstanding = [];
    private readonly Action<string>? _trace;
    private ILogReader?[] _readers = [];
    private long[] _firstAtEnd = [];
    private long _nextTag = 1;

    public CrashSimulation(int seed, Action<string>? trace)
    {
        _random = new Random(seed);
        _files = new SimulatedFileSystem(_random.Next());
        _trace = trace;
        int partitions = _random.Next(1, 4);
        _firstAtEnd = new long[partitions];
        _model = new PartitionModel[partitions];
        for (int i = 0; i < partitions; i++)
        {
            _model[i] = new PartitionModel();
        }

        _options = new SegmentLogOptions
        {
            Directory = Root + "/log",
            PartitionCount = partitions,
            SegmentBytesMax = _random.Next(64, 4096),
            PendingBytesMax = 1 << 20,
            RecordBytesMax = RecordBytesMax,
            FileSystem = _files,
            Retention = _random.Next(4) == 0 ? null : TimeSpan.Zero,
            Warn = Warned,
        };
    }

    /// <summary>What the seed did, for the report.</summary>
    public Statistics Totals { get; } = new();

    public void Run()
    {
        // The directory holding the log is made durable by its owner (the data directory), not by the log.
        _files.CreateDirectory(Root);
        _files.SyncDirectory("/");
        int lives = _random.Next(3, 7);
        for (int life = 0; life < lives; life++)
        {
            Live(life);
        }

        LastLife();
    }

    private void Live(int life)
    {
        ArmFaults();
        Trace($"life {life}: {_model.Length} partitions, SegmentBytesMax {_options.SegmentBytesMax}, retention {_options.Retention?.ToString() ?? "off"}, crash at operation {_files.CrashAtOperation}, " +
            $"ENOSPC at write {_files.WriteFailsWithNoSpaceAt}, errno {_files.DataSyncErrno} at fdatasync {_files.DataSyncFailsAt}, EIO at directory fsync {_files.DirectorySyncFailsAt}, disk full {_files.DiskFull}");
        SegmentLog? log = TryOpen();
        if (log is not null)
        {
            CheckRecovered(log);
            int steps = _random.Next(10, 80);
            for (int step = 0; step < steps && !_files.Crashed; step++)
            {
                Step(log);
            }
        }

        End(log);
    }

    /// <summary>No faults: the log must recover, match the model, and take, store and acknowledge new appends.</summary>
    private void LastLife()
    {
        _files.DiskFull = false;
        _files.WriteFailsWithNoSpaceAt = _files.DataSyncFailsAt = _files.DirectorySyncFailsAt = long.MaxValue;
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(_options);
        CheckRecovered(log);
        for (int i = 0; i < 4; i++)
        {
            Append(log);
        }

        log.CommitPendingForTests();
        Settle(log);
        Check(_outstanding.Count == 0, $"{_outstanding.Count} appends were not acknowledged once the faults stopped");
        CheckRecovered(log);
    }

    private void ArmFaults()
    {
        _files.CrashAtOperation = _random.Next(10) < 7 ? _files.Operations + _random.Next(1, 150) : long.MaxValue;
        _files.DiskFull = _random.Next(10) == 0;
        _files.WriteFailsWithNoSpaceAt = _random.Next(10) < 3 ? _files.Writes + _random.Next(1, 30) : long.MaxValue;
        _files.DataSyncFailsAt = _random.Next(10) == 0 ? _files.DataSyncs + _random.Next(1, 30) : long.MaxValue;
        _files.DataSyncErrno = _random.Next(2) == 0 ? SimulatedFileSystem.InputOutputError : NativeFile.NoSpace;
        _files.DirectorySyncFailsAt = _random.Next(20) == 0 ? _files.DirectorySyncs + _random.Next(1, 5) : long.MaxValue;
    }

    private SegmentLog? TryOpen()
    {
        try
        {
            return SegmentLog.OpenWithoutFlusherForTests(_options);
        }
        catch (SimulatedCrashException)
        {
            Trace("crashed during recovery");
            Totals.CrashesInRecovery++;
            return null;
        }
        catch (IOException exception) when (exception.HResult is SimulatedFileSystem.InputOutputError or NativeFile.NoSpace)
        {
            // An injected fault at start-up: the program reports it and exits; the next life starts again.
            Trace($"start-up failed: {exception.Message}");
            return null;
        }
    }

    private void Step(SegmentLog log)
    {
        int action = _random.Next(22);
        if (action < 9)
        {
            Append(log);
        }
        else if (action < 16)
        {
            Commit(log);
        }
        else if (action < 19)
        {
            ReadAndCheck(log);
        }
        else if (action < 21)
        {
            DeleteReleased(log);
        }
        else
        {
            _files.DiskFull = !_files.DiskFull;
            Trace($"disk full: {_files.DiskFull}");
        }
    }

    private void Append(SegmentLog log)
    {
        int partition = _random.Next(_model.Length);
        var tags = new long[_random.Next(1, 6)];
        var payloads = new byte[tags.Length][];
        for (int i = 0; i < tags.Length; i++)
        {
            tags[i] = _nextTag++;
            payloads[i] = Payload(tags[i]);
        }

        bool failed = log.IsFailed;
        try
        {
            Task<long> append = log.AppendAsync(partition, payloads);
            Check(!failed, "a failed log took an append");
            _outstanding.Add(new Outstanding(partition, tags, append));
            _model[partition].Maybe.UnionWith(tags);
            Trace($"append p{partition} tags {tags[0]}..{tags[^1]}");
        }
        catch (LogFailedException)
        {
            Check(failed, "an append threw LogFailedException although the log had not failed");
        }
    }

    private void Commit(SegmentLog log)
    {
        bool failedBefore = log.IsFailed;
        log.CommitPendingForTests();
        bool syncFailed = _files.DataSyncs >= _files.DataSyncFailsAt || _files.DirectorySyncs >= _files.DirectorySyncFailsAt;
        Check(!syncFailed || log.IsFailed, "a failed fdatasync or directory fsync did not stop the log (fail-stop)");
        Totals.FailStops += syncFailed && !failedBefore ? 1 : 0;
        Check(!_files.Crashed || log.IsFailed, "the log went on after its file system died");
        int acknowledged = Settle(log);
        Check(!failedBefore || acknowledged == 0, "a failed log acknowledged an append");
    }

    /// <summary>
    /// Releases a partition up to a random position no higher than its records known durable and its reader (as a
    /// processor releases only what it counted and will not read again), then runs a retention pass. Whatever it
    /// deleted, every partition must still start at or below the highest position released to it.
    /// </summary>
    private void DeleteReleased(SegmentLog log)
    {
        int partition = _random.Next(_model.Length);
        PartitionModel model = _model[partition];
        long ceiling = Math.Min(model.Durable.Count, _readers[partition]?.Position ?? long.MaxValue);
        if (ceiling > model.Released)
        {
            model.Released += _random.NextInt64(ceiling - model.Released + 1);
        }

        log.ReleaseBelow(partition, model.Released);
        try
        {
            int deleted = log.DeleteReleasedSegments();
            Totals.SegmentsDeleted += deleted;
            Trace($"released p{partition} below {model.Released}: {deleted} segments deleted");
        }
        catch (LogFailedException exception)
        {
            Check(log.IsFailed, "a retention pass threw LogFailedException although the log had not failed");
            Trace($"retention failed: {exception.InnerException?.GetType().Name ?? exception.Message}");
        }

        for (int p = 0; p < _model.Length; p++)
        {
            Check(log.FirstPosition(p) <= _model[p].Released, $"p{p}: the log starts at {log.FirstPosition(p)}, above the {_model[p].Released} released: retention deleted records still needed");
        }
    }

    /// <summary>Moves finished appends into the model, in the order they were made; returns how many were acknowledged.</summary>
    private int Settle(SegmentLog log)
    {
        int acknowledged = 0;
        for (int i = 0; i < _outstanding.Count; i++)
        {
            (int partition, long[] tags, Task<long> append) = _outstanding[i];
            PartitionModel model = _model[partition];
            if (!append.IsCompleted)
            {
                continue;
            }

            _outstanding.RemoveAt(i--);
            if (append.IsCompletedSuccessfully)
            {
                Check(append.Result == model.Durable.Count, $"p{partition}: an append was acknowledged at position {append.Result}, but the partition's durable records end at {model.Durable.Count}");
                model.Durable.AddRange(tags);
                model.Maybe.ExceptWith(tags);
                Check(log.DurableEnd(partition) >= model.Durable.Count, $"p{partition}: acknowledged up to {model.Durable.Count}, durable end {log.DurableEnd(partition)}");
                acknowledged++;
                Totals.Acknowledged += tags.Length;
                Trace($"acknowledged p{partition} tags {tags[0]}..{tags[^1]} at {append.Result}");
            }
            else if (append.Exception!.InnerException is LogDiskFullException)
            {
                // Refused for a full disk: cut back and never acknowledged, so it must never appear.
                model.Maybe.ExceptWith(tags);
                Totals.RefusedDiskFull += tags.Length;
                Trace($"refused (disk full) p{partition} tags {tags[0]}..{tags[^1]}");
            }
            else
            {
                Trace($"failed p{partition} tags {tags[0]}..{tags[^1]}: {append.Exception.InnerException!.GetType().Name}");
            }
        }

        return acknowledged;
    }

    /// <summary>
    /// Reads on with a reader per partition kept across commits (opened at a random position), so buffered bytes of a
    /// write that was cut back would show; every record read must be the model's durable one at its position.
    /// </summary>
    private void ReadAndCheck(SegmentLog log)
    {
        int partition = _random.Next(_model.Length);
        if (_readers[partition] is null)
        {
            // Never below what was released: the program opens its reader where it will read on from.
            long from = Math.Max(log.FirstPosition(partition), _model[partition].Released);
            _readers[partition] = log.OpenReader(partition, from + _random.NextInt64(log.DurableEnd(partition) - from + 1));
        }

        ReadOn(log, partition);
    }

    private void ReadOn(SegmentLog log, int partition)
    {
        ILogReader reader = _readers[partition]!;
        var batch = new LogReadBatch(5, 4096);
        while (reader.Read(batch) is int count and > 0)
        {
            for (int i = 0; i < count; i++)
            {
                long position = batch.FirstPosition + i;
                List<long> durable = _model[partition].Durable;
                Check(position < durable.Count, $"p{partition}: a reader got position {position}, beyond the {durable.Count} records known durable");
                CheckRecord(partition, position, batch[i], durable[(int)position]);
            }
        }

        Check(reader.Position == log.DurableEnd(partition), $"p{partition}: a reader stopped at {reader.Position}, the durable end is {log.DurableEnd(partition)}");
    }

    /// <summary>Ends a life: a clean close, or the process dies (kill -9, or a power loss).</summary>
    private void End(SegmentLog? log)
    {
        bool clean = log is not null && !log.IsFailed && !_files.Crashed && _random.Next(4) == 0;
        if (!clean)
        {
            _files.CrashNow();
        }

        foreach (ILogReader? reader in _readers)
        {
            reader?.Dispose();
        }

        for (int partition = 0; partition < _model.Length && log is not null; partition++)
        {
            _firstAtEnd[partition] = log.FirstPosition(partition);
        }

        log?.Dispose();
        if (log is not null)
        {
            Settle(log);
        }

        Check(_outstanding.Count == 0, $"{_outstanding.Count} appends neither completed nor faulted when the log closed");
        bool powerLoss = _random.Next(3) != 0;
        Trace(clean ? "closed" : powerLoss ? "power loss" : "process killed");
        Totals.PowerLosses += powerLoss ? 1 : 0;
        _files.Restart(powerLoss);
        _readers = new ILogReader?[_model.Length];

        // The sim's write hook reads on with the live readers just before a write fails, pulling its partial bytes in.
        _files.WriteFailing = null;
    }

    /// <summary>
    /// After a recovery every partition holds exactly its durable records (in order, at their positions), then possibly
    /// records whose appends failed with the log, in append order; never anything else. What recovery shows becomes durable.
    /// </summary>
    private void CheckRecovered(SegmentLog log)
    {
        Totals.Recoveries++;
        _readers = new ILogReader?[_model.Length];
        _files.WriteFailing = _ => ReadOnAll(log);
        for (int partition = 0; partition < _model.Length; partition++)
        {
            PartitionModel model = _model[partition];
            long first = log.FirstPosition(partition);
            Check(first <= model.Released, $"p{partition}: recovery starts at position {first}, above the {model.Released} released: records still needed are gone");
            Totals.DeletedSegmentsBack += first < _firstAtEnd[partition] ? 1 : 0;
            List<(long Tag, byte[] Payload)> records = ReadAll(log, partition, first);
            Check(log.DurableEnd(partition) == first + records.Count, $"p{partition}: durable end {log.DurableEnd(partition)}, {records.Count} records readable from {first}");
            Check(first + records.Count >= model.Durable.Count, $"p{partition}: {model.Durable.Count} records were durable, recovery found {first + records.Count}: acknowledged records were lost");
            long previous = 0;
            for (int index = 0; index < records.Count; index++)
            {
                int position = (int)first + index;
                (long tag, byte[] payload) = records[index];
                if (position < model.Durable.Count)
                {
                    CheckRecord(partition, position, payload, model.Durable[position]);
                }
                else
                {
                    Check(model.Maybe.Contains(tag), $"p{partition}: position {position} holds tag {tag}, which was never appended to this partition, or was refused, or was already gone");
                    Check(tag > previous, $"p{partition}: position {position} holds tag {tag} after tag {previous}: out of append order or twice");
                    CheckRecord(partition, position, payload, tag);
                    model.Durable.Add(tag);
                    Totals.SurvivedUnacknowledged++;
                }

                previous = tag;
            }

            // What recovery did not find is gone for good.
            model.Maybe.Clear();
        }
    }

    private void ReadOnAll(SegmentLog log)
    {
        for (int partition = 0; partition < _readers.Length; partition++)
        {
            if (_readers[partition] is not null)
            {
                ReadOn(log, partition);
            }
        }
    }

    private static List<(long Tag, byte[] Payload)> ReadAll(SegmentLog log, int partition, long first)
    {
        var records = new List<(long, byte[])>();
        using ILogReader reader = log.OpenReader(partition, first);
        var batch = new LogReadBatch(7, 4096);
        while (reader.Read(batch) is int count and > 0)
        {
            Check(batch.FirstPosition == first + records.Count, $"p{partition}: a read batch starts at {batch.FirstPosition}, expected {first + records.Count}");
            for (int i = 0; i < count; i++)
            {
                records.Add((LogFixtures.TagOf(batch[i]), batch[i].ToArray()));
            }
        }

        return records;
    }

    private static void CheckRecord(int partition, long position, ReadOnlySpan<byte> payload, long tag)
    {
        Check(LogFixtures.TagOf(payload) == tag, $"p{partition}: position {position} holds tag {LogFixtures.TagOf(payload)}, expected {tag}");
        Check(payload.SequenceEqual(Payload(tag)), $"p{partition}: position {position} holds tag {tag} with other bytes than were appended");
    }

    /// <summary>A record's bytes follow from its tag: the tag, then 1 to 300 bytes derived from it.</summary>
    private static byte[] Payload(long tag)
    {
        uint mixed = (uint)(tag * 2654435761L);
        var payload = new byte[sizeof(long) + 1 + (int)(mixed % 300)];
        BinaryPrimitives.WriteInt64LittleEndian(payload, tag);
        for (int i = sizeof(long); i < payload.Length; i++)
        {
            payload[i] = (byte)(mixed >> (i % 24));
        }

        return payload;
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new SimulationFailedException(message);
        }
    }

    private void Warned(string message)
    {
        Totals.TornTailsCut += message.StartsWith("Cut a torn tail", StringComparison.Ordinal) ? 1 : 0;
        Trace($"warn: {message}");
    }

    private void Trace(string message)
    {
        _trace?.Invoke($"[op {_files.Operations}] {message}");
    }

    private sealed class PartitionModel
    {
        /// <summary>Tags of the records known durable, by position.</summary>
        public List<long> Durable { get; } = [];

        /// <summary>Tags appended, not acknowledged, that may still be in the partition (their append was not refused).</summary>
        public HashSet<long> Maybe { get; } = [];

        /// <summary>The highest position released to retention: nothing at or above it may ever be deleted.</summary>
        public long Released { get; set; }
    }

    private readonly record struct Outstanding(int Partition, long[] Tags, Task<long> Append);

    /// <summary>Counts over a run, to show the faults the seeds reached.</summary>
    public sealed class Statistics
    {
        public long Acknowledged { get; set; }

        public long RefusedDiskFull { get; set; }

        public long SurvivedUnacknowledged { get; set; }

        public long Recoveries { get; set; }

        public long CrashesInRecovery { get; set; }

        public long PowerLosses { get; set; }

        public long TornTailsCut { get; set; }

        public long FailStops { get; set; }

        public long SegmentsDeleted { get; set; }

        /// <summary>Recoveries that found a segment deleted before the crash (its unlink not yet durable, or not yet made).</summary>
        public long DeletedSegmentsBack { get; set; }

        public bool ReachedEveryFault =>
            RefusedDiskFull > 0 && SurvivedUnacknowledged > 0 && CrashesInRecovery > 0 && PowerLosses > 0 && TornTailsCut > 0 && FailStops > 0 &&
            SegmentsDeleted > 0;

        public void Add(Statistics other)
        {
            Acknowledged += other.Acknowledged;
            RefusedDiskFull += other.RefusedDiskFull;
            SurvivedUnacknowledged += other.SurvivedUnacknowledged;
            Recoveries += other.Recoveries;
            CrashesInRecovery += other.CrashesInRecovery;
            PowerLosses += other.PowerLosses;
            TornTailsCut += other.TornTailsCut;
            FailStops += other.FailStops;
            SegmentsDeleted += other.SegmentsDeleted;
            DeletedSegmentsBack += other.DeletedSegmentsBack;
        }

        public override string ToString() =>
            $"{Acknowledged} records acknowledged, {RefusedDiskFull} refused for a full disk, {SurvivedUnacknowledged} unacknowledged that survived, " +
            $"{Recoveries} recoveries checked, {CrashesInRecovery} crashes during recovery, {PowerLosses} power losses, " +
            $"{TornTailsCut} torn tails cut, {FailStops} fail-stops after a failed fsync, {SegmentsDeleted} segments deleted, " +
            $"{DeletedSegmentsBack} recoveries that found a deleted segment again";
    }
}

/// <summary>An invariant of the crash simulation did not hold.</summary>
internal sealed class SimulationFailedException(string message) : Exception(message);

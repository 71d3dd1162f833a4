using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Archive;

/// <summary>
/// <c>tollbooth replay --from-archive</c>: rebuilds the stored rows, the changes feed and the checkpoints from
/// the raw archive alone, without reading the log. Each partition's archived clicks are counted in log order
/// with their archived verdicts through <see cref="PartitionAggregator.ApplyDecided"/>, so the window rows,
/// their statuses, revisions and changes move exactly as they did when the processors decided them, and
/// every row records the rule set version that decided its clicks then, whatever the rules are now. Only the
/// window timing settings (watermark delay, allowed lateness) are taken from the configuration.
/// </summary>
public static class ArchiveReplay
{
    private const int CommitRecords = 100_000;

    /// <summary>
    /// Why the archive cannot rebuild the store (a position of some partition below its mark is in no file:
    /// raw retention or a deletion took it), or null when it holds every position below every mark.
    /// Reads only the position column of each file.
    /// </summary>
    public static string? Incomplete(string root, int partitions)
    {
        for (int partition = 0; partition < partitions; partition++)
        {
            long mark = ParquetArchive.ReadMark(root, partition);
            // One bit per position rather than a list of them: a partition of 100 million clicks takes 12.5 MB.
            var seen = new System.Collections.BitArray(checked((int)mark));
            foreach ((string path, _, _) in FilesOf(root, partition, mark))
            {
                foreach (long position in ArchiveFormat.ReadPositions(path))
                {
                    if (position < 0 || position >= mark || seen[(int)position])
                    {
                        return $"the archive file {path} holds position {position} of partition {partition}, which is past its mark {mark} or in another file too";
                    }

                    seen[(int)position] = true;
                }
            }

            for (int position = 0; position < mark; position++)
            {
                if (!seen[position])
                {
                    int end = position;
                    while (end + 1 < mark && !seen[end + 1])
                    {
                        end++;
                    }

                    return $"the archive lacks positions {position} to {end} of partition {partition} (raw retention or a deletion removed them)";
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Counts every archived click into <paramref name="store"/>, which must be empty, partition by partition;
    /// commits as the processors do. Returns the clicks counted. <paramref name="progress"/> gets (done, all).
    /// </summary>
    public static long Rebuild(string root, IAggregateStore store, AggregatorOptions options, int partitions, Action<long, long>? progress = null)
    {
        long[] marks = Enumerable.Range(0, partitions).Select(p => ParquetArchive.ReadMark(root, p)).ToArray();
        long all = marks.Sum(), done = 0;
        for (int partition = 0; partition < partitions; partition++)
        {
            var aggregator = new PartitionAggregator(partition, options, new StoredRows(store, partition));
            PartitionLease lease = store.Claim(partition);
            long next = 0;
            foreach (ArchiveRecord record in InLogOrder(root, partition, marks[partition]))
            {
                if (record.Position != next)
                {
                    throw new InvalidDataException(
                        $"The archive of partition {partition} gives position {record.Position} where {next} was due; the store is partly rebuilt: rebuild it from the log with `tollbooth replay`.");
                }

                aggregator.ApplyDecided(record.Click, record.Outcome, record.Erased ? record.ErasedUserHash : null);
                next++;
                done++;
                if (next % CommitRecords == 0)
                {
                    Commit(store, lease, aggregator, next);
                    progress?.Invoke(done, all);
                }
            }

            if (next != marks[partition])
            {
                throw new InvalidDataException(
                    $"The archive of partition {partition} ends at position {next} but its mark says {marks[partition]}; the store is partly rebuilt: rebuild it from the log with `tollbooth replay`.");
            }

            if (next % CommitRecords != 0)
            {
                Commit(store, lease, aggregator, next);
            }

            progress?.Invoke(done, all);
        }

        return done;
    }

    private static void Commit(IAggregateStore store, PartitionLease lease, PartitionAggregator aggregator, long next)
    {
        List<WindowRow> rows = aggregator.TakeChangedRows();
        store.Commit(lease, new PartitionCheckpoint(aggregator.Partition, next, aggregator.MaxEventTimeMs, aggregator.NextChangeSequence), rows, aggregator.TakeChanges());
        aggregator.EvictSettledRows();
    }

    /// <summary>
    /// A partition's archived clicks in position order: its files are merged by position, each read when
    /// the merge reaches its first position, so only the files whose positions overlap are in memory at once
    /// (the hour files of one flush).
    /// </summary>
    private static IEnumerable<ArchiveRecord> InLogOrder(string root, int partition, long mark)
    {
        List<(string Path, long First, long End)> files = FilesOf(root, partition, mark);
        var open = new PriorityQueue<(IReadOnlyList<ArchiveRecord> Records, int Index), long>();
        int nextFile = 0;
        long next = 0;
        while (true)
        {
            while (nextFile < files.Count && files[nextFile].First <= next)
            {
                IReadOnlyList<ArchiveRecord> records = ArchiveFormat.Read(files[nextFile++].Path);
                if (records.Count > 0)
                {
                    open.Enqueue((records, 0), records[0].Position);
                }
            }

            if (!open.TryDequeue(out (IReadOnlyList<ArchiveRecord> Records, int Index) cursor, out _))
            {
                if (nextFile < files.Count)
                {
                    // No file holds `next`: the caller reports the gap.
                    next = files[nextFile].First;
                    continue;
                }

                yield break;
            }

            ArchiveRecord record = cursor.Records[cursor.Index];
            yield return record;
            next = record.Position + 1;
            if (cursor.Index + 1 < cursor.Records.Count)
            {
                open.Enqueue((cursor.Records, cursor.Index + 1), cursor.Records[cursor.Index + 1].Position);
            }
        }
    }

    // The partition's files a finished flush wrote (those past the mark are a crash's leftovers), by first position.
    private static List<(string Path, long First, long End)> FilesOf(string root, int partition, long mark)
    {
        var files = new List<(string Path, long First, long End)>();
        foreach (string path in ArchiveFiles.Of(root))
        {
            if (ArchiveFiles.TryParse(path, out int filePartition, out long first, out long end) && filePartition == partition && end <= mark)
            {
                files.Add((path, first, end));
            }
        }

        return files.OrderBy(f => f.First).ThenBy(f => f.Path, StringComparer.Ordinal).ToList();
    }

    private sealed class StoredRows(IAggregateStore store, int partition) : IWindowRowSource
    {
        public WindowRow? Load(WindowKey key) => store.ReadRow(partition, key);
    }
}

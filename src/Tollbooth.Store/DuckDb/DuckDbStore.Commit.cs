using System.Diagnostics;
using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Log;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>Writes: a partition's commit (rows and checkpoint in one transaction, I3) and <see cref="Clear"/>.</summary>
public sealed partial class DuckDbStore
{
    private const string UpsertRowsSql =
        "INSERT OR REPLACE INTO window_rows (" + WindowRowColumns.List + ") SELECT " + WindowRowColumns.List + " FROM " + StagingTable;

    private const string UpsertCheckpointsSql =
        "INSERT OR REPLACE INTO partition_checkpoints (\"partition\", next_position, max_event_time_ms, next_change_sequence) VALUES ";

    /// <summary>
    /// Upserts <paramref name="rows"/> with their absolute values (I2) and the partition's checkpoint in one
    /// transaction (I3); on any failure nothing of it is written and the failure is rethrown. It returns once that
    /// transaction committed: commits of other partitions waiting at the same moment share it (GroupCommit.cs), and
    /// a failure of the shared transaction fails each of them. The rows' keys must be distinct.
    /// </summary>
    /// <remarks>
    /// Not fenced: for a store that no processor owns (tests, benchmarks, and tools that write a store alone). A
    /// processor commits with its lease (<see cref="Commit(PartitionLease, PartitionCheckpoint, IReadOnlyList{WindowRow}, IReadOnlyList{WindowChange})"/>).
    /// </remarks>
    public void Commit(PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes) =>
        Commit(checkpoint, rows, changes, lease: null);

    private void Commit(PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes, PartitionLease? lease)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(changes);
        Debug.Assert(checkpoint.NextPosition >= 0);
        CheckKeysDistinct(checkpoint.Partition, rows);
        var commit = new PendingCommit(checkpoint, rows, changes, lease);
        if (_groupCommits)
        {
            CommitInGroup(commit);
        }
        else
        {
            lock (_writeLock)
            {
                WriteGroupOrFailIt([commit]);
            }

            commit.Failure?.Throw();
        }
    }

    /// <summary>A commit without window changes.</summary>
    public void Commit(PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows) => Commit(checkpoint, rows, []);

    /// <summary>Deletes every window row and checkpoint in one transaction; API keys stay.</summary>
    public void Clear()
    {
        // A roll or a compaction in flight finishes first: it must not write rollups of the rows cleared here.
        lock (_rollLock)
        {
            WriteInTransaction(
                0,
                static (store, _) =>
                {
                    DuckDbSql.Execute(store._writer, "DELETE FROM window_rows");
                    DuckDbSql.Execute(store._writer, "DELETE FROM partition_checkpoints");
                    DuckDbSql.Execute(store._writer, "DELETE FROM window_changes");
                    store.ClearRollups();
                },
                static (store, _) =>
                {
                    store.NoteCleared();
                    store.ForgetDirectory();
                });
        }
    }

    // Inside the transaction, under _writeLock: every commit's rows, changes and checkpoint, then the fault hooks.
    private void WriteGroup(List<PendingCommit> group)
    {
        UpsertRows(group);
        UnrollTouchedHours(group);
        AppendChanges(group);
        UpsertCheckpoints(group);
        for (int i = 0; i < group.Count; i++)
        {
            // Once per commit, after all of the group is written: a failpoint counting hits counts commits, as before
            // commits were grouped, and each hit finds every commit of its transaction written and none committed.
            CommitFault?.Invoke(group[i].Checkpoint);
            if (Failpoints.Enabled)
            {
                Failpoints.Hit(Failpoints.StoreInsideCommit);
            }
        }
    }

    // After the transaction committed, under _writeLock: the writer's view follows the file, commit by commit in order.
    private void NoteGroupCommitted(List<PendingCommit> group)
    {
        for (int i = 0; i < group.Count; i++)
        {
            PendingCommit commit = group[i];
            NoteCommittedHours(commit.Rows, commit.Hours!);
            NoteCommittedIds(commit.Rows);
        }
    }

    private void UpsertRows(List<PendingCommit> group)
    {
        if (KeysRepeatAcross(group))
        {
            // Two commits of the group write one key (two partitions sharing an ad, or one partition committing from
            // two threads): one statement cannot replace a row twice, so each commit gets its own, in order, and the
            // later one wins as it would have in transactions of its own.
            for (int i = 0; i < group.Count; i++)
            {
                UpsertRows(group, i, i + 1);
            }
        }
        else
        {
            UpsertRows(group, 0, group.Count);
        }
    }

    // The rows of group[from..to) staged by one appender, moved into window_rows by one INSERT OR REPLACE.
    private void UpsertRows(List<PendingCommit> group, int from, int to)
    {
        int staged = 0;

        // The appender writes into the open transaction of the writer connection, so a rollback takes
        // the staged rows back too. Disposing it flushes them before the INSERT reads them.
        using (DuckDBAppender appender = _writer.CreateAppender("temp", "main", StagingTable))
        {
            for (int c = from; c < to; c++)
            {
                int partition = group[c].Checkpoint.Partition;
                IReadOnlyList<WindowRow> rows = group[c].Rows;
                for (int i = 0; i < rows.Count; i++)
                {
                    WindowRow row = rows[i];
                    Debug.Assert(row.Received == row.Clicks + row.DuplicateClicks + row.InvalidClicks + row.TooLate);
                    WindowRowColumns.Append(appender, partition, row);
                }

                staged += rows.Count;
            }
        }

        if (staged == 0)
        {
            return;
        }

        DuckDbSql.Execute(_writer, UpsertRowsSql);
        DuckDbSql.Execute(_writer, "DELETE FROM " + StagingTable);
    }

    // Whether a window key is in more than one commit of the group (each commit's keys are distinct already).
    private static bool KeysRepeatAcross(List<PendingCommit> group)
    {
        if (group.Count < 2)
        {
            return false;
        }

        int total = 0;
        for (int c = 0; c < group.Count; c++)
        {
            total += group[c].Rows.Count;
        }

        var keys = new HashSet<WindowKey>(total);
        for (int c = 0; c < group.Count; c++)
        {
            IReadOnlyList<WindowRow> rows = group[c].Rows;
            for (int i = 0; i < rows.Count; i++)
            {
                if (!keys.Add(rows[i].Key))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private void AppendChanges(List<PendingCommit> group)
    {
        DuckDBAppender? appender = null;
        try
        {
            for (int c = 0; c < group.Count; c++)
            {
                IReadOnlyList<WindowChange> changes = group[c].Changes;
                for (int i = 0; i < changes.Count; i++)
                {
                    appender ??= _writer.CreateAppender("window_changes");
                    WindowRowColumns.AppendChange(appender, changes[i]);
                }
            }
        }
        finally
        {
            appender?.Dispose();
        }
    }

    // One statement for the group; a partition that commits twice in it keeps its later checkpoint, as it would have
    // in transactions of its own.
    private void UpsertCheckpoints(List<PendingCommit> group)
    {
        var sql = new StringBuilder(UpsertCheckpointsSql);
        for (int c = 0; c < group.Count; c++)
        {
            PartitionCheckpoint checkpoint = group[c].Checkpoint;
            if (LaterInGroup(group, c))
            {
                continue;
            }

            sql.Append(sql.Length == UpsertCheckpointsSql.Length ? "(" : ", (")
                .Append(checkpoint.Partition.ToString(CultureInfo.InvariantCulture)).Append(", ")
                .Append(checkpoint.NextPosition.ToString(CultureInfo.InvariantCulture)).Append(", ")
                .Append(checkpoint.MaxEventTimeMs.ToString(CultureInfo.InvariantCulture)).Append(", ")
                .Append(checkpoint.NextChangeSequence.ToString(CultureInfo.InvariantCulture)).Append(')');
        }

        DuckDbSql.Execute(_writer, sql.ToString());
    }

    private static bool LaterInGroup(List<PendingCommit> group, int index)
    {
        for (int c = index + 1; c < group.Count; c++)
        {
            if (group[c].Checkpoint.Partition == group[index].Checkpoint.Partition)
            {
                return true;
            }
        }

        return false;
    }

    // Two rows with one key in a commit would leave whichever DuckDB applied last: a silent miscount,
    // so this check is always on. It costs a hash per row, small beside the write.
    private static void CheckKeysDistinct(int partition, IReadOnlyList<WindowRow> rows)
    {
        var keys = new HashSet<WindowKey>(rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            if (!keys.Add(rows[i].Key))
            {
                throw new ArgumentException(
                    $"A commit of partition {partition} holds the window key {rows[i].Key} twice (row {i}); a commit carries each row once, with its latest values.",
                    nameof(rows));
            }
        }
    }
}

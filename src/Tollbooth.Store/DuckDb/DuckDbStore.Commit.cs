using System.Diagnostics;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Store;

/// <summary>Writes: a partition's commit (rows and checkpoint in one transaction, I3) and <see cref="Clear"/>.</summary>
public sealed partial class DuckDbStore
{
    private const string UpsertRowsSql =
        "INSERT OR REPLACE INTO window_rows (" + WindowRowColumns.List + ") SELECT " + WindowRowColumns.List + " FROM " + StagingTable;

    private const string UpsertCheckpointSql =
        "INSERT OR REPLACE INTO partition_checkpoints (\"partition\", next_position, max_event_time_ms, next_change_sequence) "
        + "VALUES ($partition, $next_position, $max_event_time_ms, $next_change_sequence)";

    /// <summary>
    /// Upserts <paramref name="rows"/> with their absolute values (I2) and the partition's checkpoint in one
    /// transaction (I3); on any failure nothing of it is written and the failure is rethrown.
    /// The rows' keys must be distinct.
    /// </summary>
    public void Commit(PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(changes);
        Debug.Assert(checkpoint.NextPosition >= 0);
        CheckKeysDistinct(checkpoint.Partition, rows);
        var commit = new CommitState(checkpoint, rows, changes);
        WriteInTransaction(
            commit,
            static (store, commit) =>
            {
                store.UpsertRows(commit.Checkpoint.Partition, commit.Rows);
                commit.Hours = store.UnrollTouchedHours(commit.Rows);
                store.AppendChanges(commit.Changes);
                store.UpsertCheckpoint(commit.Checkpoint);
                store.CommitFault?.Invoke();
                if (Failpoints.Enabled)
                {
                    Failpoints.Hit(Failpoints.StoreInsideCommit);
                }
            },
            static (store, commit) =>
            {
                store.NoteCommittedHours(commit.Rows, commit.Hours!);
                store.NoteCommittedIds(commit.Rows);
            });
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

    private void UpsertRows(int partition, IReadOnlyList<WindowRow> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        // The appender writes into the open transaction of the writer connection, so a rollback takes
        // the staged rows back too. Disposing it flushes them before the INSERT reads them.
        using (DuckDBAppender appender = _writer.CreateAppender("temp", "main", StagingTable))
        {
            for (int i = 0; i < rows.Count; i++)
            {
                WindowRow row = rows[i];
                Debug.Assert(row.Received == row.Clicks + row.DuplicateClicks + row.InvalidClicks + row.TooLate);
                WindowRowColumns.Append(appender, partition, row);
            }
        }

        DuckDbSql.Execute(_writer, UpsertRowsSql);
        DuckDbSql.Execute(_writer, "DELETE FROM " + StagingTable);
    }

    private sealed class CommitState(PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes)
    {
        public PartitionCheckpoint Checkpoint { get; } = checkpoint;

        public IReadOnlyList<WindowRow> Rows { get; } = rows;

        public IReadOnlyList<WindowChange> Changes { get; } = changes;

        public HashSet<long>? Hours { get; set; }
    }

    private void AppendChanges(IReadOnlyList<WindowChange> changes)
    {
        if (changes.Count == 0)
        {
            return;
        }

        using DuckDBAppender appender = _writer.CreateAppender("window_changes");
        foreach (WindowChange change in changes)
        {
            WindowRowColumns.AppendChange(appender, change);
        }
    }

    private void UpsertCheckpoint(PartitionCheckpoint checkpoint)
    {
        using DuckDBCommand command = DuckDbSql.Command(_writer, UpsertCheckpointSql);
        DuckDbSql.Add(command, "partition", checkpoint.Partition);
        DuckDbSql.Add(command, "next_position", checkpoint.NextPosition);
        DuckDbSql.Add(command, "max_event_time_ms", checkpoint.MaxEventTimeMs);
        DuckDbSql.Add(command, "next_change_sequence", checkpoint.NextChangeSequence);
        command.ExecuteNonQuery();
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

using System.Runtime.ExceptionServices;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// Partition owners (issue 17): <see cref="Claim"/> raises a partition's epoch in <c>partition_owners</c>, and a
/// commit whose lease carries an older epoch is refused before its group's transaction writes anything. One process
/// holds a DuckDB file, and claims and commits both run under the write lock, so the epochs in memory are the file's:
/// a group reads them there instead of with a query per transaction.
/// </summary>
public sealed partial class DuckDbStore
{
    // Guarded by _writeLock.
    private readonly Dictionary<int, long> _ownerEpochs = new();

    /// <inheritdoc />
    public PartitionLease Claim(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        long epoch = 0;
        WriteInTransaction(
            partition,
            (store, p) =>
            {
                using DuckDBCommand command = DuckDbSql.Command(
                    store._writer,
                    "INSERT INTO partition_owners (\"partition\", epoch) VALUES ($partition, 1) ON CONFLICT (\"partition\") DO UPDATE SET epoch = partition_owners.epoch + 1 RETURNING epoch");
                DuckDbSql.Add(command, "partition", p);
                epoch = (long)command.ExecuteScalar()!;
            },
            (store, p) => store._ownerEpochs[p] = epoch);
        return new PartitionLease(partition, epoch);
    }

    /// <summary>A fenced commit (<see cref="IPartitionStore.Commit"/>): refused, with nothing written, unless the lease is the newest.</summary>
    public void Commit(PartitionLease lease, PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes)
    {
        if (lease.Partition != checkpoint.Partition)
        {
            throw new ArgumentException($"A lease of partition {lease.Partition} cannot commit partition {checkpoint.Partition}.", nameof(lease));
        }

        Commit(checkpoint, rows, changes, lease);
    }

    // Called once from Open, before any claim or commit.
    private void LoadOwnerEpochs()
    {
        using DuckDBCommand command = DuckDbSql.Command(_writer, "SELECT \"partition\", epoch FROM partition_owners");
        using DuckDBDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            _ownerEpochs[reader.GetInt32(0)] = reader.GetInt64(1);
        }
    }

    // Under _writeLock, before the group's transaction: each commit whose lease a later claim superseded fails alone,
    // and the others are written. Returns the group itself when none is fenced.
    private List<PendingCommit> WithoutFencedCommits(List<PendingCommit> group)
    {
        List<PendingCommit>? live = null;
        for (int i = 0; i < group.Count; i++)
        {
            PendingCommit commit = group[i];
            long current = _ownerEpochs.GetValueOrDefault(commit.Checkpoint.Partition);
            bool fenced = commit.Lease is { } lease && lease.Epoch != current;
            if (fenced)
            {
                commit.Failure = ExceptionDispatchInfo.Capture(new PartitionFencedException(commit.Lease!.Value, current));
                live ??= group.GetRange(0, i);
            }
            else
            {
                live?.Add(commit);
            }
        }

        return live ?? group;
    }
}

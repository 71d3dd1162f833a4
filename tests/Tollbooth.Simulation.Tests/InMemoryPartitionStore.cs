using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Simulation.Tests;

/// <summary>
/// The partition store's contract in memory, as the DuckDB store keeps it: a commit upserts copies of its rows
/// (absolute values), appends its changes and sets the checkpoint, all at once, unless its lease is superseded, in
/// which case it throws <see cref="PartitionFencedException"/> having changed nothing. Epochs only go up. Rows come
/// back in an order drawn from the seed, since a SQL store promises none. Single-threaded.
/// </summary>
public sealed class InMemoryPartitionStore(Random order) : IPartitionStore
{
    private readonly Dictionary<int, long> _epochs = new();
    private readonly Dictionary<int, PartitionCheckpoint> _checkpoints = new();
    private readonly Dictionary<int, Dictionary<WindowKey, WindowRow>> _rows = new();
    private readonly Dictionary<int, List<WindowChange>> _changes = new();

    public PartitionLease Claim(int partition)
    {
        long epoch = _epochs.GetValueOrDefault(partition) + 1;
        _epochs[partition] = epoch;
        return new PartitionLease(partition, epoch);
    }

    public PartitionCheckpoint ReadCheckpoint(int partition) =>
        _checkpoints.TryGetValue(partition, out PartitionCheckpoint checkpoint) ? checkpoint : PartitionCheckpoint.Empty(partition);

    public IReadOnlyList<WindowRow> ReadRows(int partition, long fromMinute)
    {
        List<WindowRow> rows = RowsOf(partition).Values.Where(row => row.Key.Minute >= fromMinute || row.Pending).Select(row => row.Clone()).ToList();
        for (int i = rows.Count - 1; i > 0; i--)
        {
            int j = order.Next(i + 1);
            (rows[i], rows[j]) = (rows[j], rows[i]);
        }

        return rows;
    }

    public WindowRow? ReadRow(int partition, WindowKey key) =>
        RowsOf(partition).TryGetValue(key, out WindowRow? row) ? row.Clone() : null;

    public void Commit(PartitionLease lease, PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes)
    {
        Assert.Equal(lease.Partition, checkpoint.Partition);
        long current = _epochs.GetValueOrDefault(lease.Partition);
        if (lease.Epoch != current)
        {
            throw new PartitionFencedException(lease, current);
        }

        Assert.Equal(rows.Count, rows.Select(row => row.Key).Distinct().Count());
        Dictionary<WindowKey, WindowRow> stored = RowsOf(lease.Partition);
        foreach (WindowRow row in rows)
        {
            stored[row.Key] = row.Clone();
        }

        List<WindowChange> feed = _changes.TryGetValue(lease.Partition, out List<WindowChange>? list) ? list : _changes[lease.Partition] = new();
        feed.AddRange(changes.Select(change => change with { Row = change.Row.Clone() }));
        _checkpoints[lease.Partition] = checkpoint;
    }

    /// <summary>Every stored row of the partition, ordered by key, as text that holds every stored field and the sketch's bytes.</summary>
    public IReadOnlyList<string> Dump(int partition) =>
        RowsOf(partition).Values.Select(Describe).Order(StringComparer.Ordinal).ToList();

    /// <summary>The partition's published changes in sequence order, as text.</summary>
    public IReadOnlyList<string> DumpChanges(int partition) =>
        (_changes.TryGetValue(partition, out List<WindowChange>? list) ? list : []).Select(change => $"{change.Sequence} {Describe(change.Row)}").ToList();

    /// <summary>The stored rows of every partition.</summary>
    public IEnumerable<WindowRow> AllRows() => _rows.Values.SelectMany(rows => rows.Values);

    private static string Describe(WindowRow row) =>
        $"{row.Key} received={row.Received} clicks={row.Clicks} spend={row.SpendMicros} dup={row.DuplicateClicks} " +
        $"bad_token={row.InvalidBadToken} bot={row.InvalidBot} rate={row.InvalidRate} unsigned={row.InvalidUnsigned} " +
        $"too_late={row.TooLate} late={row.LateClicks} rules={row.RuleVersion} status={row.Status} revision={row.Revision} " +
        $"pending={row.Pending} users={Convert.ToHexString(row.Users.Serialize())}";

    private Dictionary<WindowKey, WindowRow> RowsOf(int partition) =>
        _rows.TryGetValue(partition, out Dictionary<WindowKey, WindowRow>? rows) ? rows : _rows[partition] = new();
}

namespace Tollbooth.Core;

/// <summary>
/// Row numbers by event minute, taken out oldest first when the watermark passes them: the aggregator's clock queues
/// (open rows until they close, closed ones until they are final). Clicks arrive mostly in the newest minute, so the
/// last minute's list is at hand without a lookup; lists of taken minutes are reused. A sorted list, not a sorted
/// dictionary: minutes are added mostly at the end and taken from the front, and neither allocates (a tree node per
/// minute, an enumerator per look at the oldest).
/// </summary>
internal sealed class MinuteQueue
{
    private const int SpareListsMax = 64;
    private readonly SortedList<long, List<int>> _byMinute = new();
    private readonly Stack<List<int>> _spare = new();
    private long _lastMinute;
    private List<int>? _last;

    public void Enqueue(long minute, int row)
    {
        List<int>? rows = _last;
        if (rows is null || minute != _lastMinute)
        {
            if (!_byMinute.TryGetValue(minute, out rows))
            {
                rows = _spare.Count > 0 ? _spare.Pop() : new List<int>();
                _byMinute.Add(minute, rows);
            }

            _lastMinute = minute;
            _last = rows;
        }

        rows.Add(row);
    }

    /// <summary>Moves every row of a minute before <paramref name="belowMinute"/> into <paramref name="due"/>, oldest minute first.</summary>
    public void TakeBelow(long belowMinute, List<int> due)
    {
        while (_byMinute.Count > 0 && _byMinute.Keys[0] < belowMinute)
        {
            List<int> rows = _byMinute.Values[0];
            due.AddRange(rows);
            _byMinute.RemoveAt(0);
            if (ReferenceEquals(rows, _last))
            {
                _last = null;
            }

            if (_spare.Count < SpareListsMax)
            {
                rows.Clear();
                _spare.Push(rows);
            }
        }
    }
}

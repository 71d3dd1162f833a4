namespace Tollbooth.Core;

/// <summary>
/// Row numbers by event minute, taken out oldest first when the watermark passes them: the aggregator's clock queues
/// (open rows until they close, closed ones until they are final). Clicks arrive mostly in the newest minute, so the
/// last minute's list is at hand without a lookup; lists of taken minutes are reused.
/// </summary>
internal sealed class MinuteQueue
{
    private const int SpareListsMax = 64;
    private readonly SortedDictionary<long, List<int>> _byMinute = new();
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
        while (_byMinute.Count > 0)
        {
            long minute = 0;
            foreach (long first in _byMinute.Keys)
            {
                minute = first;
                break;
            }

            if (minute >= belowMinute)
            {
                return;
            }

            List<int> rows = _byMinute[minute];
            due.AddRange(rows);
            _byMinute.Remove(minute);
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

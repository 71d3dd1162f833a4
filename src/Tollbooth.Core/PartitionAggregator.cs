using System.Buffers;

namespace Tollbooth.Core;

/// <summary>
/// The deterministic state machine of one partition (I5): dedup, invalid-traffic rules and one-minute
/// event-time windows. Every decision depends only on the clicks applied so far, in log order, and on
/// <see cref="AggregatorOptions"/>; never on wall-clock time, commit timing or threads.
/// Single-threaded: one processor owns it.
/// </summary>
public sealed class PartitionAggregator
{
    private const long MinuteMs = 60_000;

    private readonly AggregatorOptions _options;
    private readonly IWindowRowSource _source;
    private readonly DedupIndex _dedup;
    private readonly SearchValues<string> _botPatterns;
    private readonly Dictionary<WindowKey, WindowRow> _rows = new();
    private readonly HashSet<WindowKey> _dirtyKeys = new();
    private readonly List<WindowRow> _dirtyRows = new();

    private const long CompactEveryMinutes = 60;
    private long _compactedForgetBeforeMinute = long.MinValue;

    // Every stored row of this partition with a minute at or after this one is in _rows.
    private long _residentFromMinute = long.MinValue;

    /// <param name="dedup">A dedup index restored from a snapshot, or null for an empty one.</param>
    /// <param name="maxEventTimeMs">The highest event time the restored index has seen, with it.</param>
    public PartitionAggregator(int partition, AggregatorOptions options, IWindowRowSource source, DedupIndex? dedup = null, long maxEventTimeMs = long.MinValue)
    {
        Partition = partition;
        MaxEventTimeMs = maxEventTimeMs;
        _options = options;
        _source = source;
        _dedup = dedup ?? new DedupIndex(options.DedupIdsMax);
        _botPatterns = SearchValues.Create(options.BotUserAgentPatterns.ToArray(), StringComparison.OrdinalIgnoreCase);
    }

    public int Partition { get; }

    /// <summary>Highest event time applied so far; <see cref="long.MinValue"/> before the first click.</summary>
    public long MaxEventTimeMs { get; private set; } = long.MinValue;

    /// <summary>The partition watermark: a function of the log alone (I5).</summary>
    public long WatermarkMs => MaxEventTimeMs == long.MinValue ? long.MinValue : MaxEventTimeMs - _options.WatermarkDelayMs;

    public DedupIndex Dedup => _dedup;

    public int ResidentRowCount => _rows.Count;

    /// <summary>
    /// Re-applies a click that is already counted in the committed rows (positions below the
    /// checkpoint, on restart): only the dedup index and the watermark move, exactly as
    /// <see cref="Apply"/> moves them.
    /// </summary>
    public void Remember(Click click, long position)
    {
        long minute = MinuteOf(click.TimestampMs);
        _dedup.Observe(ClickFingerprint.Of(click.ClickId), position, minute, ForgetBeforeMinute());
        AdvanceEventTime(click.TimestampMs);
    }

    /// <summary>
    /// After <see cref="Remember"/> has replayed up to the checkpoint, loads the committed rows that
    /// late clicks may still change (the rest are loaded on demand).
    /// </summary>
    public void LoadResidentRows(Func<long, IReadOnlyList<WindowRow>> readRowsFromMinute)
    {
        if (_rows.Count > 0)
        {
            // A row applied before the stored ones are loaded would overwrite them with partial counts.
            throw new InvalidOperationException($"Partition {Partition}: rows must be loaded before any click is applied.");
        }

        _residentFromMinute = LatenessFloorMinute();
        foreach (WindowRow row in readRowsFromMinute(_residentFromMinute))
        {
            _rows[row.Key] = row;
        }
    }

    /// <summary>Decides the verdict of the click at <paramref name="position"/> and updates its window row.</summary>
    public (Verdict Verdict, InvalidReason Reason) Apply(Click click, long position)
    {
        long watermark = WatermarkMs;
        var key = WindowKey.For(click);
        long first = _dedup.Observe(ClickFingerprint.Of(click.ClickId), position, key.Minute, ForgetBeforeMinute());
        WindowRow row = RowFor(key);
        row.Received++;
        (Verdict, InvalidReason) outcome;
        if (first < position)
        {
            row.DuplicateClicks++;
            outcome = (Verdict.Duplicate, InvalidReason.None);
        }
        else if (IsBot(click.UserAgent))
        {
            row.AddInvalid(InvalidReason.Bot);
            outcome = (Verdict.Invalid, InvalidReason.Bot);
        }
        else if (IsTooLate(key.Minute, watermark))
        {
            row.TooLate++;
            outcome = (Verdict.TooLate, InvalidReason.None);
        }
        else
        {
            CountValid(row, click, watermark);
            outcome = (Verdict.Valid, InvalidReason.None);
        }

        AdvanceEventTime(click.TimestampMs);
        return outcome;
    }

    /// <summary>Copies of the rows changed since the last call, for one commit.</summary>
    public List<WindowRow> TakeChangedRows()
    {
        var changed = new List<WindowRow>(_dirtyRows.Count);
        foreach (WindowRow row in _dirtyRows)
        {
            changed.Add(row.Clone());
        }

        _dirtyRows.Clear();
        _dirtyKeys.Clear();
        return changed;
    }

    /// <summary>Drops committed rows that only a too-late click could touch again; call after a commit.</summary>
    public void EvictSettledRows()
    {
        long floor = LatenessFloorMinute();
        if (floor <= _residentFromMinute)
        {
            return;
        }

        List<WindowKey>? settled = null;
        foreach (KeyValuePair<WindowKey, WindowRow> entry in _rows)
        {
            if (entry.Key.Minute < floor && !_dirtyKeys.Contains(entry.Key))
            {
                (settled ??= new()).Add(entry.Key);
            }
        }

        if (settled is not null)
        {
            foreach (WindowKey key in settled)
            {
                _rows.Remove(key);
            }
        }

        // Dirty rows below the floor stay resident until committed; they are found in _rows first.
        _residentFromMinute = floor;
        CompactDedupWhenDue();
    }

    // Lookups already treat expired ids as absent, so compaction only frees memory: it never changes a
    // decision, whenever it runs (the forget-before minute never decreases).
    private void CompactDedupWhenDue()
    {
        long forgetBefore = ForgetBeforeMinute();
        if (forgetBefore != long.MinValue && forgetBefore - _compactedForgetBeforeMinute >= CompactEveryMinutes)
        {
            if (_compactedForgetBeforeMinute != long.MinValue)
            {
                _dedup.Compact(forgetBefore);
            }

            _compactedForgetBeforeMinute = forgetBefore;
        }
    }

    private void CountValid(WindowRow row, Click click, long watermark)
    {
        row.Clicks++;
        row.SpendMicros = SaturatingAdd(row.SpendMicros, click.CostMicros);
        row.Users.AddUser(click.UserId);
        if (watermark != long.MinValue && (row.Key.Minute + 1) * MinuteMs <= watermark)
        {
            row.LateClicks++;
        }
    }

    private WindowRow RowFor(WindowKey key)
    {
        if (!_rows.TryGetValue(key, out WindowRow? row))
        {
            row = (key.Minute < _residentFromMinute ? _source.Load(key) : null) ?? new WindowRow(key);
            _rows.Add(key, row);
        }

        if (_dirtyKeys.Add(key))
        {
            _dirtyRows.Add(row);
        }

        return row;
    }

    private bool IsBot(string userAgent) => userAgent.Length > 0 && userAgent.AsSpan().ContainsAny(_botPatterns);

    private bool IsTooLate(long minute, long watermark) =>
        watermark != long.MinValue && (minute + 1) * MinuteMs <= watermark - _options.AllowedLatenessMs;

    private long ForgetBeforeMinute()
    {
        long watermark = WatermarkMs;
        return watermark == long.MinValue ? long.MinValue : MinuteOf(watermark - _options.DedupHorizonMs);
    }

    // The oldest minute whose window a late (not too-late) click can still change.
    private long LatenessFloorMinute()
    {
        long watermark = WatermarkMs;
        return watermark == long.MinValue ? long.MinValue : MinuteOf(watermark - _options.AllowedLatenessMs) - 1;
    }

    private void AdvanceEventTime(long timestampMs)
    {
        if (timestampMs > MaxEventTimeMs)
        {
            MaxEventTimeMs = timestampMs;
        }
    }

    private static long MinuteOf(long timestampMs) => Math.DivRem(timestampMs, MinuteMs, out long remainder) - (remainder < 0 ? 1 : 0);

    private static long SaturatingAdd(long a, long b)
    {
        long sum = unchecked(a + b);
        return ((a ^ sum) & (b ^ sum)) < 0 ? long.MaxValue : sum;
    }
}

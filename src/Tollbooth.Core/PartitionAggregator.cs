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
    private readonly RateCounters _rates;
    private readonly RuleSet _rules;
    private readonly Dictionary<WindowKey, WindowRow> _rows = new();
    private readonly List<WindowRow> _dirtyRows = new();

    // The billing contract's bookkeeping (see Tick): rows by minute until the watermark closes them,
    // closed rows by minute until it finalises them, rows changed since their last published change.
    private readonly SortedDictionary<long, List<WindowRow>> _openByMinute = new();
    private readonly SortedDictionary<long, List<WindowRow>> _closedByMinute = new();
    private readonly HashSet<WindowRow> _pendingRows = new(ReferenceEqualityComparer.Instance);
    private readonly List<WindowChange> _changes = new();
    private long _closedBelowMinute = long.MinValue;
    private long _finalBelowMinute = long.MinValue;

    private const long CompactEveryMinutes = 60;
    private long _compactedForgetBeforeMinute = long.MinValue;

    // Every stored row of this partition with a minute at or after this one is in _rows.
    private long _residentFromMinute = long.MinValue;

    /// <param name="dedup">A dedup index restored from a snapshot, or null for an empty one.</param>
    /// <param name="maxEventTimeMs">The highest event time the restored index has seen, with it.</param>
    /// <param name="rates">The rate rule's counters restored with the dedup index, or null for empty ones.</param>
    public PartitionAggregator(int partition, AggregatorOptions options, IWindowRowSource source, DedupIndex? dedup = null, long maxEventTimeMs = long.MinValue, RateCounters? rates = null)
    {
        Partition = partition;
        MaxEventTimeMs = maxEventTimeMs;
        _options = options;
        _source = source;
        _dedup = dedup ?? new DedupIndex(options.DedupIdsMax);
        _rates = rates ?? new RateCounters();
        _rules = new RuleSet(options);
    }

    public int Partition { get; }

    /// <summary>Highest event time applied so far; <see cref="long.MinValue"/> before the first click.</summary>
    public long MaxEventTimeMs { get; private set; } = long.MinValue;

    /// <summary>The partition watermark: a function of the log alone (I5).</summary>
    public long WatermarkMs => MaxEventTimeMs == long.MinValue ? long.MinValue : MaxEventTimeMs - _options.WatermarkDelayMs;

    public DedupIndex Dedup => _dedup;

    /// <summary>The rate rule's counters; snapshotted with <see cref="Dedup"/>.</summary>
    public RateCounters Rates => _rates;

    public int ResidentRowCount => _rows.Count;

    /// <summary>The sequence number the next published window change gets.</summary>
    public long NextChangeSequence { get; private set; }

    /// <summary>
    /// Re-applies a click that is already counted in the committed rows (positions below the
    /// checkpoint, on restart): only the dedup index and the watermark move, exactly as
    /// <see cref="Apply"/> moves them.
    /// </summary>
    public ClickOutcome Remember(Click click, long position)
    {
        ClickOutcome outcome = Decide(click, MinuteOf(click.TimestampMs), position, WatermarkMs);
        AdvanceEventTime(click.TimestampMs);
        return outcome;
    }

    /// <summary>
    /// After <see cref="Remember"/> has replayed up to the checkpoint, loads the committed rows that
    /// late clicks may still change, and those with an unpublished change (the rest are loaded on
    /// demand); <paramref name="nextChangeSequence"/> is the checkpoint's.
    /// </summary>
    public void LoadResidentRows(Func<long, IReadOnlyList<WindowRow>> readRowsFromMinuteOrPending, long nextChangeSequence = 0)
    {
        if (_rows.Count > 0)
        {
            // A row applied before the stored ones are loaded would overwrite them with partial counts.
            throw new InvalidOperationException($"Partition {Partition}: rows must be loaded before any click is applied.");
        }

        NextChangeSequence = nextChangeSequence;
        _residentFromMinute = LatenessFloorMinute();
        foreach (WindowRow row in readRowsFromMinuteOrPending(_residentFromMinute))
        {
            _rows[row.Key] = row;
            Track(row);
        }

        // The stored rows already carry every change published up to the checkpoint's watermark.
        (_closedBelowMinute, _finalBelowMinute) = StatusBoundaries();
    }

    /// <summary>Decides the verdict of the click at <paramref name="position"/> and updates its window row.</summary>
    public ClickOutcome Apply(Click click, long position)
    {
        long watermark = WatermarkMs;
        var key = WindowKey.For(click);
        ClickOutcome outcome = Decide(click, key.Minute, position, watermark);
        RowFor(key).Count(click, outcome);
        AdvanceEventTime(click.TimestampMs);
        Tick();
        return outcome;
    }

    /// <summary>
    /// Counts a click whose verdict was decided before (the raw archive's record of it) instead of deciding
    /// it: the window rows, their statuses and the window changes move exactly as <see cref="Apply"/> moves
    /// them; the dedup index and the rate counters do not move. Clicks must come in log order.
    /// </summary>
    /// <param name="erasedUserHash">For an erased click, what stands in for its user id (see <see cref="WindowRow.Count"/>).</param>
    public void ApplyDecided(Click click, ClickOutcome outcome, ulong? erasedUserHash = null)
    {
        RowFor(WindowKey.For(click)).Count(click, outcome, erasedUserHash);
        AdvanceEventTime(click.TimestampMs);
        Tick();
    }

    /// <summary>
    /// The verdict, in API.md's order: a repeated click id is a duplicate; then the invalid-traffic rules
    /// (a token that did not verify, a known bot, over the rate limit, unsigned where the advertiser requires
    /// signing); then too late; else valid, and late when its window had closed. Moves the dedup index and
    /// the rate counters, nothing else.
    /// </summary>
    private ClickOutcome Decide(Click click, long minute, long position, long watermark)
    {
        long first = _dedup.Observe(ClickFingerprint.Of(click.ClickId), position, minute, ForgetBeforeMinute());
        if (first < position)
        {
            return new(Verdict.Duplicate, InvalidReason.None, RuleVersion: _rules.Version);
        }

        bool tooLate = IsTooLate(minute, watermark);
        InvalidReason reason = _rules.Check(click, minute, tooLate, _rates);
        string version = _rules.Version;
        return reason != InvalidReason.None ? new(Verdict.Invalid, reason, RuleVersion: version)
            : tooLate ? new(Verdict.TooLate, InvalidReason.None, RuleVersion: version)
            : new(Verdict.Valid, InvalidReason.None, IsLate(minute, watermark), version);
    }

    /// <summary>The window changes published since the last call, in sequence order, for one commit.</summary>
    public List<WindowChange> TakeChanges()
    {
        var changes = new List<WindowChange>(_changes);
        _changes.Clear();
        return changes;
    }

    /// <summary>
    /// Copies of the rows changed since the last call, for one commit; when <paramref name="recent"/> is
    /// given, it receives the valid clicks and spend each row gained since the last call.
    /// </summary>
    public List<WindowRow> TakeChangedRows(List<RecentClicks>? recent = null)
    {
        var changed = new List<WindowRow>(_dirtyRows.Count);
        foreach (WindowRow row in _dirtyRows)
        {
            changed.Add(row.Snapshot ?? row.Clone());
            row.Snapshot = null;
            if (recent is not null && row.Clicks != row.ReportedClicks)
            {
                recent.Add(new RecentClicks(row.Key, row.Clicks - row.ReportedClicks, row.SpendMicros - row.ReportedSpendMicros));
            }

            row.ReportedClicks = row.Clicks;
            row.ReportedSpendMicros = row.SpendMicros;
            row.Dirty = false;
        }

        _dirtyRows.Clear();
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
            if (entry.Key.Minute < floor && !entry.Value.Dirty && IsSettled(entry.Value))
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
        _rates.ForgetBefore(floor);
        CompactDedupWhenDue();
    }

    /// <summary>How many times the dedup index was compacted (expired ids dropped) since this aggregator began.</summary>
    public long DedupCompactions { get; private set; }

    // Lookups already treat expired ids as absent, so compaction only frees memory: it never changes a
    // decision, whenever it runs (the forget-before minute never decreases).
    private void CompactDedupWhenDue()
    {
        // The first test is apart: "forgetBefore - long.MinValue" overflows, and hid every compaction until a fault
        // test found that the index never shrank.
        long forgetBefore = ForgetBeforeMinute();
        if (forgetBefore == long.MinValue
            || (_compactedForgetBeforeMinute != long.MinValue && forgetBefore - _compactedForgetBeforeMinute < CompactEveryMinutes))
        {
            return;
        }

        _dedup.Compact(forgetBefore);
        DedupCompactions++;
        _compactedForgetBeforeMinute = forgetBefore;
    }

    private WindowRow RowFor(WindowKey key)
    {
        if (!_rows.TryGetValue(key, out WindowRow? row))
        {
            row = (key.Minute < _residentFromMinute ? _source.Load(key) : null) ?? new WindowRow(key);
            _rows.Add(key, row);
            Track(row);
        }

        // The row is about to change: a copy taken for a published change no longer matches it.
        row.Snapshot = null;

        MarkDirty(row);

        // Every Apply changes the row it reaches: once the row left Open, that change is published at the next tick.
        if (row.Status != WindowStatus.Open && !row.Pending)
        {
            row.Pending = true;
            _pendingRows.Add(row);
        }

        return row;
    }

    // A flag on the row, not a set of keys: one hash lookup per click fewer.
    private void MarkDirty(WindowRow row)
    {
        if (!row.Dirty)
        {
            row.Dirty = true;
            _dirtyRows.Add(row);
        }
    }

    private void Track(WindowRow row)
    {
        // A stored row's clicks were reported by the run that counted them.
        row.ReportedClicks = row.Clicks;
        row.ReportedSpendMicros = row.SpendMicros;
        switch (row.Status)
        {
            case WindowStatus.Open:
                Enqueue(_openByMinute, row);
                break;
            case WindowStatus.Closed:
                Enqueue(_closedByMinute, row);
                break;
        }

        if (row.Pending)
        {
            _pendingRows.Add(row);
        }
    }

    private static void Enqueue(SortedDictionary<long, List<WindowRow>> queue, WindowRow row)
    {
        if (!queue.TryGetValue(row.Key.Minute, out List<WindowRow>? rows))
        {
            rows = new List<WindowRow>();
            queue.Add(row.Key.Minute, rows);
        }

        rows.Add(row);
    }

    private static bool IsSettled(WindowRow row) => row.Status >= WindowStatus.Final && !row.Pending;

    // Windows end before minute `closed` are closed, before `final` final: functions of the watermark alone.
    private (long Closed, long Final) StatusBoundaries()
    {
        long watermark = WatermarkMs;
        return watermark == long.MinValue
            ? (long.MinValue, long.MinValue)
            : (MinuteOf(watermark), MinuteOf(watermark - _options.AllowedLatenessMs));
    }

    /// <summary>
    /// Publishes window changes when the watermark crosses a minute boundary: windows it closed, windows
    /// it finalised, and closed or final windows whose numbers changed since their last change (a final
    /// one becomes amended). Each changed row gets one change with the next revision, in key order, so
    /// the changes depend on the log alone (I5), never on when commits happened.
    /// </summary>
    private void Tick()
    {
        (long closedBelow, long finalBelow) = StatusBoundaries();
        if (closedBelow == _closedBelowMinute && finalBelow == _finalBelowMinute)
        {
            return;
        }

        _closedBelowMinute = closedBelow;
        _finalBelowMinute = finalBelow;
        var changed = new HashSet<WindowRow>(ReferenceEqualityComparer.Instance);
        foreach (WindowRow row in _pendingRows)
        {
            if (row.Status >= WindowStatus.Final)
            {
                row.Status = WindowStatus.Amended;
            }

            row.Pending = false;
            changed.Add(row);
        }

        _pendingRows.Clear();
        foreach (WindowRow row in Dequeue(_openByMinute, closedBelow))
        {
            row.Status = row.Key.Minute < finalBelow ? WindowStatus.Final : WindowStatus.Closed;
            if (row.Status == WindowStatus.Closed)
            {
                Enqueue(_closedByMinute, row);
            }

            changed.Add(row);
        }

        foreach (WindowRow row in Dequeue(_closedByMinute, finalBelow))
        {
            row.Status = WindowStatus.Final;
            changed.Add(row);
        }

        if (changed.Count == 0)
        {
            return;
        }

        var ordered = new WindowRow[changed.Count];
        changed.CopyTo(ordered);
        Array.Sort(ordered, static (a, b) => WindowKeyComparer.Instance.Compare(a.Key, b.Key));
        foreach (WindowRow row in ordered)
        {
            row.Revision++;
            MarkDirty(row);

            // The same copy serves the change and, unless a click changes the row first, the next commit.
            row.Snapshot = row.Clone();
            _changes.Add(new WindowChange(Partition, NextChangeSequence++, row.Snapshot));
        }
    }

    private static List<WindowRow> Dequeue(SortedDictionary<long, List<WindowRow>> queue, long belowMinute)
    {
        var due = new List<WindowRow>();
        while (queue.Count > 0)
        {
            KeyValuePair<long, List<WindowRow>> first = queue.First();
            if (first.Key >= belowMinute)
            {
                break;
            }

            due.AddRange(first.Value);
            queue.Remove(first.Key);
        }

        return due;
    }

    // The window had closed when the click arrived (a correction); a late click is still counted.
    private static bool IsLate(long minute, long watermark) => watermark != long.MinValue && (minute + 1) * MinuteMs <= watermark;

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
}

namespace Tollbooth.Core;

/// <summary>
/// The deterministic state machine of one partition (I5): dedup, invalid-traffic rules and one-minute
/// event-time windows. Every decision depends only on the clicks applied so far, in log order, and on
/// <see cref="AggregatorOptions"/>; never on wall-clock time, commit timing or threads.
/// Single-threaded: one processor owns it.
/// <para>
/// The state is flat: a click is read in place from its log record (<see cref="ClickView"/>), its ids become
/// integers of the partition's <see cref="IdTable"/>, and its window row is a struct in an open-addressing table
/// keyed by those integers (<see cref="WindowTable"/>), so counting a click makes no object and hashes no string.
/// Rows become <see cref="WindowRow"/> objects only when handed to the store or published as a change.
/// </para>
/// </summary>
public sealed partial class PartitionAggregator
{
    private const long MinuteMs = 60_000;

    private readonly AggregatorOptions _options;
    private readonly IWindowRowSource _source;
    private readonly DedupIndex _dedup;
    private readonly RateCounters _rates;
    private readonly RuleSet _rules;
    private readonly WindowTable _rows;
    private readonly UserSketches _sketches = new();
    private IdTable _ids = new();
    private int _idsAfterCompaction;

    // Per user-agent id: 0 not looked at yet, 1 a person's, 2 a known bot's (a function of the string, cached).
    private byte[] _botVerdicts = new byte[1 << 12];

    // Rule set versions the rows carry, by index; 0 is this aggregator's own.
    private readonly List<string> _ruleVersions = new();
    private readonly Dictionary<string, int> _ruleVersionIndex = new(StringComparer.Ordinal);

    private readonly List<int> _dirtyRows = new();

    // The billing contract's bookkeeping (see Tick): rows by minute until the watermark closes them,
    // closed rows by minute until it finalises them, rows changed since their last published change.
    private readonly MinuteQueue _openByMinute = new();
    private readonly MinuteQueue _closedByMinute = new();
    private readonly List<int> _pendingRows = new();
    private readonly List<int> _tickRows = new();
    private readonly List<int> _dueRows = new();
    private readonly Comparison<int> _keyOrder;
    private readonly List<PublishedChange> _changes = new();
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
        _rows = new WindowTable(options.ResidentRowsInitialCapacity);
        VersionIndexOf(_rules.Version);
        _keyOrder = CompareKeys;
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

    /// <summary>Ids the partition's id table holds now (ads, advertisers, campaigns, publishers, countries, user agents).</summary>
    public int IdCount => _ids.Count;

    /// <summary>The sequence number the next published window change gets.</summary>
    public long NextChangeSequence { get; private set; }

    /// <summary>
    /// Re-applies the click of a record that is already counted in the committed rows (positions below the
    /// checkpoint, on restart): only the dedup index and the watermark move, exactly as <see cref="Apply(ReadOnlySpan{byte}, long)"/>
    /// moves them.
    /// </summary>
    public ClickOutcome Remember(ReadOnlySpan<byte> record, long position)
    {
        var click = new ClickView(record);
        ClickOutcome outcome = Decide(in click, MinuteOf(click.TimestampMs), position, WatermarkMs);
        AdvanceEventTime(click.TimestampMs);
        return outcome;
    }

    /// <summary>As <see cref="Remember(ReadOnlySpan{byte}, long)"/>, for a click object.</summary>
    public ClickOutcome Remember(Click click, long position) => Remember(ClickCodec.Encode(click), position);

    /// <summary>Decides the verdict of the click of the record at <paramref name="position"/> and updates its window row.</summary>
    public ClickOutcome Apply(ReadOnlySpan<byte> record, long position)
    {
        var click = new ClickView(record);
        long minute = MinuteOf(click.TimestampMs);
        ClickOutcome outcome = Decide(in click, minute, position, WatermarkMs);
        Count(RowFor(in click, minute), in click, outcome, erasedUserHash: null);
        AdvanceEventTime(click.TimestampMs);
        Tick();
        return outcome;
    }

    /// <summary>As <see cref="Apply(ReadOnlySpan{byte}, long)"/>, for a click object (tests, tools).</summary>
    public ClickOutcome Apply(Click click, long position) => Apply(ClickCodec.Encode(click), position);

    /// <summary>
    /// Counts a click whose verdict was decided before (the raw archive's record of it) instead of deciding
    /// it: the window rows, their statuses and the window changes move exactly as <see cref="Apply(ReadOnlySpan{byte}, long)"/> moves
    /// them; the dedup index and the rate counters do not move. Clicks must come in log order.
    /// </summary>
    /// <param name="erasedUserHash">For an erased click, what stands in for its user id (see <see cref="WindowRow.Count"/>).</param>
    public void ApplyDecided(Click click, ClickOutcome outcome, ulong? erasedUserHash = null)
    {
        var view = new ClickView(ClickCodec.Encode(click));
        Count(RowFor(in view, MinuteOf(view.TimestampMs)), in view, outcome, erasedUserHash);
        AdvanceEventTime(view.TimestampMs);
        Tick();
    }

    /// <summary>
    /// The verdict, in API.md's order: a repeated click id is a duplicate; then the invalid-traffic rules
    /// (a token that did not verify, a known bot, over the rate limit, unsigned where the advertiser requires
    /// signing); then too late; else valid, and late when its window had closed. Moves the dedup index and
    /// the rate counters, nothing else.
    /// </summary>
    private ClickOutcome Decide(scoped in ClickView click, long minute, long position, long watermark)
    {
        long first = _dedup.Observe(ClickFingerprint.OfUtf8(click.ClickId), position, minute, ForgetBeforeMinute());
        if (first < position)
        {
            return new(Verdict.Duplicate, InvalidReason.None, RuleVersion: _rules.Version);
        }

        bool tooLate = IsTooLate(minute, watermark);
        InvalidReason reason = _rules.Check(in click, minute, tooLate, _rates, IsBot(click.UserAgent));
        string version = _rules.Version;
        return reason != InvalidReason.None ? new(Verdict.Invalid, reason, RuleVersion: version)
            : tooLate ? new(Verdict.TooLate, InvalidReason.None, RuleVersion: version)
            : new(Verdict.Valid, InvalidReason.None, IsLate(minute, watermark), version);
    }

    private bool IsBot(ReadOnlySpan<byte> userAgent)
    {
        if (userAgent.IsEmpty)
        {
            return false;
        }

        int id = _ids.Intern(userAgent);
        if (id >= _botVerdicts.Length)
        {
            Array.Resize(ref _botVerdicts, Math.Max(_botVerdicts.Length * 2, id + 1));
        }

        byte verdict = _botVerdicts[id];
        if (verdict == 0)
        {
            verdict = _rules.IsBot(_ids.StringOf(id)) ? (byte)2 : (byte)1;
            _botVerdicts[id] = verdict;
        }

        return verdict == 2;
    }

    /// <summary>The one place a verdict becomes numbers, as <see cref="WindowRow.Count"/> does for a row object.</summary>
    private void Count(int row, scoped in ClickView click, ClickOutcome outcome, ulong? erasedUserHash)
    {
        ref RowState state = ref _rows[row];
        state.Received++;
        state.RuleVersion = ReferenceEquals(outcome.RuleVersion, _rules.Version) ? 0 : VersionIndexOf(outcome.RuleVersion);
        switch (outcome.Verdict)
        {
            case Verdict.Duplicate:
                state.DuplicateClicks++;
                break;
            case Verdict.Invalid:
                AddInvalid(ref state, outcome.Reason);
                break;
            case Verdict.TooLate:
                state.TooLate++;
                break;
            default:
                state.Clicks++;
                long cost = click.CostMicros;
                long spend = unchecked(state.SpendMicros + cost);
                state.SpendMicros = ((state.SpendMicros ^ spend) & (cost ^ spend)) < 0 ? long.MaxValue : spend;
                if (erasedUserHash is ulong hash)
                {
                    if (hash != 0)
                    {
                        _sketches.Add(ref state, hash);
                    }
                }
                else if (!click.UserId.IsEmpty)
                {
                    _sketches.Add(ref state, HyperLogLog.HashUserIdUtf8(click.UserId));
                }

                if (outcome.Late)
                {
                    state.LateClicks++;
                }

                break;
        }
    }

    private static void AddInvalid(ref RowState state, InvalidReason reason)
    {
        switch (reason)
        {
            case InvalidReason.BadToken: state.InvalidBadToken++; break;
            case InvalidReason.Bot: state.InvalidBot++; break;
            case InvalidReason.Rate: state.InvalidRate++; break;
            case InvalidReason.Unsigned: state.InvalidUnsigned++; break;
            default: throw new ArgumentOutOfRangeException(nameof(reason), reason, "An invalid click needs a reason.");
        }
    }

    private int VersionIndexOf(string version)
    {
        if (!_ruleVersionIndex.TryGetValue(version, out int index))
        {
            index = _ruleVersions.Count;
            _ruleVersions.Add(version);
            _ruleVersionIndex.Add(version, index);
        }

        return index;
    }

    /// <summary>The window changes published since the last call, in sequence order, for one commit.</summary>
    public List<WindowChange> TakeChanges()
    {
        var changes = new List<WindowChange>(_changes.Count);
        foreach (PublishedChange change in _changes)
        {
            changes.Add(new WindowChange(Partition, change.Sequence, change.Snapshot ?? MaterializeChange(change.Row)));
        }

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
        foreach (int row in _dirtyRows)
        {
            ref RowState state = ref _rows[row];
            WindowRow copy = (state.Flags & RowFlags.Unpublished) != 0 ? MaterializeChange(row) : _rows.SnapshotOf(row) ?? ToWindowRow(row);
            changed.Add(copy);
            _rows.SnapshotOf(row) = null;
            if (recent is not null && state.Clicks != state.ReportedClicks)
            {
                recent.Add(new RecentClicks(copy.Key, state.Clicks - state.ReportedClicks, state.SpendMicros - state.ReportedSpendMicros));
            }

            state.ReportedClicks = state.Clicks;
            state.ReportedSpendMicros = state.SpendMicros;
            state.Flags &= ~RowFlags.Dirty;
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

        // Dirty rows below the floor stay resident until committed; they are found in _rows first.
        for (int row = 0; row < _rows.HighWater; row++)
        {
            ref RowState state = ref _rows[row];
            if ((state.Flags & RowFlags.Used) != 0 && state.Minute < floor && (state.Flags & RowFlags.Dirty) == 0 && IsSettled(ref state))
            {
                _sketches.Release(ref state);
                _rows.Remove(row);
            }
        }

        _residentFromMinute = floor;
        _rates.ForgetBefore(floor);
        CompactDedupWhenDue();
        CompactIdsWhenDue();
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

    // Ids of evicted rows and user agents seen once stay in the table until it is rebuilt with the resident rows'
    // ids only; ids are internal, so renumbering them changes no decision and no row.
    private void CompactIdsWhenDue()
    {
        if (_ids.Count < (2 * _idsAfterCompaction) + 65_536)
        {
            return;
        }

        var ids = new IdTable(_ids.Count / 2);
        for (int row = 0; row < _rows.HighWater; row++)
        {
            ref RowState state = ref _rows[row];
            if ((state.Flags & RowFlags.Used) != 0)
            {
                state.Ad = ids.Intern(_ids.BytesOf(state.Ad));
                state.Advertiser = ids.Intern(_ids.BytesOf(state.Advertiser));
                state.Campaign = ids.Intern(_ids.BytesOf(state.Campaign));
                state.Publisher = ids.Intern(_ids.BytesOf(state.Publisher));
                state.Country = ids.Intern(_ids.BytesOf(state.Country));
                state.KeyHash = WindowTable.HashOf(state.Minute, state.Ad, state.Advertiser, state.Campaign, state.Publisher, state.Country, state.Device);
            }
        }

        _ids = ids;
        _idsAfterCompaction = ids.Count;
        Array.Clear(_botVerdicts);
        _rows.Reindex();
    }

    private int RowFor(scoped in ClickView click, long minute)
    {
        int ad = _ids.Intern(click.AdId);
        int advertiser = _ids.Intern(click.AdvertiserId);
        int campaign = _ids.Intern(click.CampaignId);
        int publisher = _ids.Intern(click.PublisherId);
        int country = _ids.Intern(click.Country);
        Device device = click.Device;
        ulong hash = WindowTable.HashOf(minute, ad, advertiser, campaign, publisher, country, device);
        int row = _rows.Find(hash, minute, ad, advertiser, campaign, publisher, country, device);
        if (row < 0)
        {
            WindowRow? stored = minute < _residentFromMinute
                ? _source.Load(new WindowKey(minute, _ids.StringOf(ad), _ids.StringOf(advertiser), _ids.StringOf(campaign), _ids.StringOf(publisher), _ids.StringOf(country), device))
                : null;
            row = _rows.Add(hash, minute, ad, advertiser, campaign, publisher, country, device);
            if (stored is not null)
            {
                LoadInto(row, stored);
            }

            Track(row);
        }

        // The row is about to change: a change published from it and not made an object yet is made one now, and a
        // copy taken for a published change no longer matches it.
        if ((_rows[row].Flags & RowFlags.Unpublished) != 0)
        {
            MaterializeChange(row);
        }

        _rows.SnapshotOf(row) = null;
        MarkDirty(row);

        // Every Apply changes the row it reaches: once the row left Open, that change is published at the next tick.
        ref RowState state = ref _rows[row];
        if (state.Status != WindowStatus.Open && (state.Flags & RowFlags.Pending) == 0)
        {
            state.Flags |= RowFlags.Pending;
            _pendingRows.Add(row);
        }

        return row;
    }

    // A flag on the row, not a set of keys: one hash lookup per click fewer.
    private void MarkDirty(int row)
    {
        ref RowState state = ref _rows[row];
        if ((state.Flags & RowFlags.Dirty) == 0)
        {
            state.Flags |= RowFlags.Dirty;
            _dirtyRows.Add(row);
        }
    }

    private void Track(int row)
    {
        // A stored row's clicks were reported by the run that counted them.
        ref RowState state = ref _rows[row];
        state.ReportedClicks = state.Clicks;
        state.ReportedSpendMicros = state.SpendMicros;
        switch (state.Status)
        {
            case WindowStatus.Open:
                _openByMinute.Enqueue(state.Minute, row);
                break;
            case WindowStatus.Closed:
                _closedByMinute.Enqueue(state.Minute, row);
                break;
        }

        if ((state.Flags & RowFlags.Pending) != 0)
        {
            _pendingRows.Add(row);
        }
    }

    private static bool IsSettled(ref RowState state) => state.Status >= WindowStatus.Final && (state.Flags & RowFlags.Pending) == 0;

    // Windows end before minute `closed` are closed, before `final` final: functions of the watermark alone.
    private (long Closed, long Final) StatusBoundaries()
    {
        long watermark = WatermarkMs;
        return watermark == long.MinValue
            ? (long.MinValue, long.MinValue)
            : (MinuteOf(watermark), MinuteOf(watermark - _options.AllowedLatenessMs));
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

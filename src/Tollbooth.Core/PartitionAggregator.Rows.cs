using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tollbooth.Core;

/// <summary>The rows between the flat state and the store: loading them back, publishing changes, handing copies out.</summary>
public sealed partial class PartitionAggregator
{
    /// <summary>
    /// After <see cref="Remember(ReadOnlySpan{byte}, long)"/> has replayed up to the checkpoint, loads the committed rows that
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
        foreach (WindowRow stored in readRowsFromMinuteOrPending(_residentFromMinute))
        {
            WindowKey key = stored.Key;
            int ad = _ids.Intern(key.AdId);
            int advertiser = _ids.Intern(key.AdvertiserId);
            int campaign = _ids.Intern(key.CampaignId);
            int publisher = _ids.Intern(key.PublisherId);
            int country = _ids.Intern(key.Country);
            ulong hash = WindowTable.HashOf(key.Minute, ad, advertiser, campaign, publisher, country, key.Device);
            int row = _rows.Find(hash, key.Minute, ad, advertiser, campaign, publisher, country, key.Device);
            if (row >= 0)
            {
                throw new InvalidOperationException($"Partition {Partition}: the store gave the row of minute {key.Minute}, ad {key.AdId} twice.");
            }

            row = _rows.Add(hash, key.Minute, ad, advertiser, campaign, publisher, country, key.Device);
            LoadInto(row, stored);
            Track(row);
        }

        // The stored rows already carry every change published up to the checkpoint's watermark.
        (_closedBelowMinute, _finalBelowMinute) = StatusBoundaries();
    }

    private void LoadInto(int row, WindowRow stored)
    {
        ref RowState state = ref _rows[row];
        state.Received = stored.Received;
        state.Clicks = stored.Clicks;
        state.SpendMicros = stored.SpendMicros;
        state.DuplicateClicks = stored.DuplicateClicks;
        state.InvalidBadToken = stored.InvalidBadToken;
        state.InvalidBot = stored.InvalidBot;
        state.InvalidRate = stored.InvalidRate;
        state.InvalidUnsigned = stored.InvalidUnsigned;
        state.TooLate = stored.TooLate;
        state.LateClicks = stored.LateClicks;
        state.RuleVersion = VersionIndexOf(stored.RuleVersion);
        state.Status = stored.Status;
        state.Revision = stored.Revision;
        if (stored.Pending)
        {
            state.Flags |= RowFlags.Pending;
        }

        _sketches.Load(ref state, stored.Users);
    }

    /// <summary>A row object with the row's key and numbers, for the store or a published change.</summary>
    private WindowRow ToWindowRow(int row)
    {
        ref RowState state = ref _rows[row];
        var key = new WindowKey(
            state.Minute,
            _ids.StringOf(state.Ad),
            _ids.StringOf(state.Advertiser),
            _ids.StringOf(state.Campaign),
            _ids.StringOf(state.Publisher),
            _ids.StringOf(state.Country),
            state.Device);
        return new WindowRow(key, UserSketches.ToSketch(ref state))
        {
            Received = state.Received,
            Clicks = state.Clicks,
            SpendMicros = state.SpendMicros,
            DuplicateClicks = state.DuplicateClicks,
            InvalidBadToken = state.InvalidBadToken,
            InvalidBot = state.InvalidBot,
            InvalidRate = state.InvalidRate,
            InvalidUnsigned = state.InvalidUnsigned,
            TooLate = state.TooLate,
            LateClicks = state.LateClicks,
            RuleVersion = _ruleVersions[state.RuleVersion],
            Status = state.Status,
            Revision = state.Revision,
            Pending = (state.Flags & RowFlags.Pending) != 0,
        };
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
        List<int> changed = _tickRows;
        foreach (int row in _pendingRows)
        {
            MarkTicked(row);
            ref RowState state = ref _rows[row];
            if (state.Status >= WindowStatus.Final)
            {
                state.Status = WindowStatus.Amended;
            }

            state.Flags &= ~RowFlags.Pending;
        }

        _pendingRows.Clear();
        _dueRows.Clear();
        _openByMinute.TakeBelow(closedBelow, _dueRows);
        foreach (int row in _dueRows)
        {
            MarkTicked(row);
            ref RowState state = ref _rows[row];
            state.Status = state.Minute < finalBelow ? WindowStatus.Final : WindowStatus.Closed;
            if (state.Status == WindowStatus.Closed)
            {
                _closedByMinute.Enqueue(state.Minute, row);
            }
        }

        _dueRows.Clear();
        _closedByMinute.TakeBelow(finalBelow, _dueRows);
        foreach (int row in _dueRows)
        {
            MarkTicked(row);
            _rows[row].Status = WindowStatus.Final;
        }

        _dueRows.Clear();
        if (changed.Count == 0)
        {
            return;
        }

        // A span and a cached comparison: List.Sort with a comparer makes a delegate per call.
        CollectionsMarshal.AsSpan(changed).Sort(_keyOrder);
        foreach (int row in changed)
        {
            ref RowState state = ref _rows[row];
            state.Flags &= ~RowFlags.Ticked;
            state.Revision++;
            MarkDirty(row);

            // The row as it stands is the change: its object is made only when the row is about to change again or is
            // handed off (MaterializeChange), so a tick makes no object per row. That one copy then serves the change
            // and, unless a click changes the row first, the next commit.
            _rows.SnapshotOf(row) = null;
            state.Flags |= RowFlags.Unpublished;
            state.UnpublishedChange = _changes.Count;
            _changes.Add(new PublishedChange(NextChangeSequence++, row));
        }

        changed.Clear();
    }

    /// <summary>Gathers a row for the tick in progress, before the tick changes it.</summary>
    private void MarkTicked(int row)
    {
        ref RowState state = ref _rows[row];
        if ((state.Flags & RowFlags.Ticked) == 0)
        {
            if ((state.Flags & RowFlags.Unpublished) != 0)
            {
                MaterializeChange(row);
            }

            state.Flags |= RowFlags.Ticked;
            _tickRows.Add(row);
        }
    }

    /// <summary>
    /// Makes the row object of the row's published change, which is the row as it stands (nothing changed it since
    /// the tick that published it): the change's row and the row's snapshot for the next commit.
    /// </summary>
    private WindowRow MaterializeChange(int row)
    {
        ref RowState state = ref _rows[row];
        Debug.Assert((state.Flags & RowFlags.Unpublished) != 0);
        ref PublishedChange change = ref CollectionsMarshal.AsSpan(_changes)[state.UnpublishedChange];
        Debug.Assert(change.Row == row && change.Snapshot is null);
        WindowRow snapshot = ToWindowRow(row);
        change.Snapshot = snapshot;
        _rows.SnapshotOf(row) = snapshot;
        state.Flags &= ~RowFlags.Unpublished;
        return snapshot;
    }

    /// <summary>A published change until <see cref="TakeChanges"/>: its row, and that row's object once made.</summary>
    private struct PublishedChange(long sequence, int row)
    {
        public readonly long Sequence = sequence;
        public readonly int Row = row;
        public WindowRow? Snapshot;
    }

    // The store's key order (WindowKeyComparer): minute, then every id as a string (ordinal), then the device.
    private int CompareKeys(int a, int b)
    {
        ref RowState x = ref _rows[a];
        ref RowState y = ref _rows[b];
        int order = x.Minute.CompareTo(y.Minute);
        if (order == 0) order = CompareIds(x.Ad, y.Ad);
        if (order == 0) order = CompareIds(x.Advertiser, y.Advertiser);
        if (order == 0) order = CompareIds(x.Campaign, y.Campaign);
        if (order == 0) order = CompareIds(x.Publisher, y.Publisher);
        if (order == 0) order = CompareIds(x.Country, y.Country);
        // As bytes: an enum's CompareTo takes an object and boxes both devices, twice a comparison of a tick's sort.
        if (order == 0) order = ((byte)x.Device).CompareTo((byte)y.Device);
        return order;
    }

    private int CompareIds(int x, int y) => x == y ? 0 : string.CompareOrdinal(_ids.StringOf(x), _ids.StringOf(y));
}

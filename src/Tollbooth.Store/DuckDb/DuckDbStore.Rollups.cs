using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// Pre-rolled hours. For every ad, campaign and advertiser (each with the advertiser of its rows) and every
/// whole UTC hour, <c>hour_rollups</c> holds the totals of that hour's minute rows: numbers summed, users
/// merged, least and most status, revisions summed. Week-long questions read one entry per hour instead of
/// sixty minute rows (times the dimension rows of each), and the table stays sorted by a 64-bit key of the
/// id, so DuckDB's min/max per row group skips all but the key's rows, which an index cannot do well here
/// (DuckDB fetches index hits row by row, and only for a single equality).
///
/// Never stale: an hour's rollups count only while the hour is in <c>rolled_hours</c>, and every commit
/// that writes a row of a rolled hour removes that hour there in the same transaction, so from then on the
/// queries read its minute rows again, in the same snapshot as the rest of their answer. A background roller
/// (re)computes hours from their minute rows once commits have left them alone for
/// <see cref="RollQuietMinutes"/> minutes of event time; it reads outside the write lock and writes only if no
/// commit touched those hours meanwhile. Restarts need nothing (it is all in the file), and a replay's
/// <see cref="Clear"/> empties both tables with the rows.
/// </summary>
public sealed partial class DuckDbStore
{
    private const long HourMinutes = 60;

    /// <summary>Commits must leave an hour alone this many minutes of event time before it is rolled.</summary>
    public const long RollQuietMinutes = 10;

    private const int RollIntervalMs = 5_000;

    // Minute rows read into one roll batch: bounds the roller's memory (a rollup entry per key and hour).
    private const long RollBatchRowsMax = 500_000;

    // Rewrite hour_rollups sorted once this many rows (and a quarter of the table) were appended since the last sort.
    private const long CompactUnsortedRowsMin = 250_000;

    private const string RollupColumns =
        "id_key, scope, id, advertiser_id, hour, received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, "
        + "invalid_bot, invalid_rate, invalid_unsigned, too_late, late_clicks, least_status, most_status, revision, users_sketch, rule_versions, minute_clicks";

    // The minute of the hour in a packed minute_clicks entry; the clicks are the bits above it.
    private const long MinuteOfHourMask = 63;

    private const string HourOfMinute = "(minute - (((minute % 60) + 60) % 60))";

    // Guarded by _writeLock, and changed only together with a committed transaction: the hours in rolled_hours,
    // and the hours with minute rows that are not rolled, each with the newest committed minute when a commit last
    // touched it (long.MinValue: before this process opened the store) and the number of that commit.
    private readonly HashSet<long> _rolledHours = new();
    private readonly Dictionary<long, (long TouchedAtMinute, long CommitNumber)> _unrolledHours = new();
    private long _newestMinute = long.MinValue;
    private long _commitNumber;

    // The rolled hours readers use without asking rolled_hours, sorted; replaced whole, never changed in place, and
    // only under _writeLock. Always a subset of rolled_hours as any transaction sees it: an hour leaves here before
    // the commit that takes it out of rolled_hours commits, and comes here after the roll that put it there committed.
    // A read checks that the array it took is still the current one after its statements ran (RollupReads.cs).
    private long[] _readableRolledHours = [];

    // One roll or compaction at a time; taken before _writeLock, never after it.
    private readonly object _rollLock = new();
    private long _unsortedRollupRows;
    private Timer? _roller;

    /// <summary>Called between a roll's read of minute rows and its write (outside the write lock): tests commit from it.</summary>
    internal Action? AfterRollRead { get; set; }

    /// <summary>Rollup rows written since the table was last sorted (for tests and the benchmark).</summary>
    internal long UnsortedRollupRows => Volatile.Read(ref _unsortedRollupRows);

    /// <summary>
    /// Rolls every hour that commits have left alone long enough, in batches, then sorts the table when enough
    /// was appended; returns the hours rolled. The background roller calls it; the benchmark calls it to finish
    /// a bulk load.
    /// </summary>
    public int RollUp() => RollUp(RollQuietMinutes, includeNewestHour: false);

    /// <summary>
    /// Rolls the hours not rolled whose last touch is at least <paramref name="quietMinutes"/> behind the newest
    /// committed minute (every such hour when <paramref name="includeNewestHour"/>, else only hours that ended that
    /// long ago); tests roll everything with 0 and true.
    /// </summary>
    internal int RollUp(long quietMinutes, bool includeNewestHour)
    {
        lock (_rollLock)
        {
            int rolled = 0;
            List<(long Hour, long CommitNumber)> due = PickHoursToRoll(quietMinutes, includeNewestHour);
            while (due.Count > 0 && !_disposed)
            {
                rolled += RollBatch(due);
            }

            if (!_disposed && _unsortedRollupRows >= CompactUnsortedRowsMin)
            {
                CompactWhenUnsorted();
            }

            return rolled;
        }
    }

    /// <summary>
    /// Forgets every pre-rolled hour: queries read minute rows until hours are rolled again. For benchmarks that
    /// measure both ways on one store, and for an operator who doubts the rollups.
    /// </summary>
    public void ResetRollups()
    {
        lock (_rollLock)
        {
            WriteInTransaction(
                0,
                static (store, _) => store.ClearRollups(),
                static (store, _) =>
                {
                    store._commitNumber++;
                    foreach (long hour in store._rolledHours)
                    {
                        store._unrolledHours[hour] = (long.MinValue, store._commitNumber);
                    }

                    store._rolledHours.Clear();
                    Volatile.Write(ref store._unsortedRollupRows, 0);
                });
        }
    }

    /// <summary>Sorts hour_rollups again when a quarter of it or more was appended since it was last sorted.</summary>
    internal void CompactWhenUnsorted(bool always = false)
    {
        lock (_rollLock)
        {
            long total;
            using (ReaderLease lease = Read())
            using (DuckDBCommand count = DuckDbSql.Command(lease.Connection, "SELECT count(*) FROM hour_rollups"))
            {
                total = Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            }

            if (!always && _unsortedRollupRows * 4 < total)
            {
                return;
            }

            // Commits never write hour_rollups, so they go on meanwhile; rolls and Clear wait on _rollLock. The new
            // table replaces the old in one transaction, and a query sees one or the other whole.
            using ReaderLease compaction = Read();
            DuckDBConnection connection = compaction.Connection;
            DuckDbSql.Execute(connection, "BEGIN TRANSACTION");
            try
            {
                DuckDbSql.Execute(connection, "CREATE TABLE hour_rollups_sorted AS SELECT " + RollupColumns + " FROM hour_rollups ORDER BY id_key, hour");
                DuckDbSql.Execute(connection, "DROP TABLE hour_rollups");
                DuckDbSql.Execute(connection, "ALTER TABLE hour_rollups_sorted RENAME TO hour_rollups");
                DuckDbSql.Execute(connection, "COMMIT");
            }
            catch
            {
                DuckDbSql.RollbackQuietly(connection);
                throw;
            }

            Volatile.Write(ref _unsortedRollupRows, 0);
        }
    }

    /// <summary>The hours whose rollups count now, in order (for tests).</summary>
    internal IReadOnlyList<long> RolledHoursNow()
    {
        lock (_writeLock)
        {
            return _rolledHours.Order().ToList();
        }
    }

    /// <summary>The 64-bit key hour_rollups is sorted by: a fixed hash of the id, seeded by its scope.</summary>
    internal static long IdKey(WindowScope scope, string id)
    {
        int length = Encoding.UTF8.GetByteCount(id);
        Span<byte> bytes = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(id, bytes);
        return unchecked((long)XxHash64.HashToUInt64(bytes, (long)scope));
    }

    private static long HourOf(long minute) => minute - (((minute % HourMinutes) + HourMinutes) % HourMinutes);

    // Called once from Open, before any commit or roll.
    private void LoadRollupState()
    {
        using (DuckDBCommand rolled = DuckDbSql.Command(_writer, "SELECT hour FROM rolled_hours"))
        using (DuckDBDataReader reader = rolled.ExecuteReader())
        {
            while (reader.Read())
            {
                _rolledHours.Add(reader.GetInt64(0));
            }
        }

        using (DuckDBCommand hours = DuckDbSql.Command(_writer, $"SELECT DISTINCT {HourOfMinute} FROM window_rows"))
        using (DuckDBDataReader reader = hours.ExecuteReader())
        {
            while (reader.Read())
            {
                long hour = reader.GetInt64(0);
                if (!_rolledHours.Contains(hour))
                {
                    _unrolledHours[hour] = (long.MinValue, 0);
                }
            }
        }

        PublishRolledHours(_rolledHours);
        using DuckDBCommand newest = DuckDbSql.Command(_writer, "SELECT max(minute) FROM window_rows");
        object? value = newest.ExecuteScalar();
        _newestMinute = value is null or DBNull ? long.MinValue : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private void StartRoller()
    {
        _roller = new Timer(static state => ((DuckDbStore)state!).RollInBackground(), this, RollIntervalMs, RollIntervalMs);
    }

    private void RollInBackground()
    {
        if (_disposed || !Monitor.TryEnter(_rollLock))
        {
            return;
        }

        try
        {
            RollUp();
        }
        catch (DuckDBException)
        {
            // Rollups only make queries faster; a failed roll changed nothing (its transaction rolled back),
            // the queries read minute rows for those hours, and the next round tries again.
        }
        catch (ObjectDisposedException) when (_disposed)
        {
        }
        finally
        {
            Monitor.Exit(_rollLock);
        }
    }

    /// <summary>
    /// In a group's transaction: each commit's hours (the hours its rows fall in, into <see cref="PendingCommit.Hours"/>);
    /// those of the group that were rolled leave rolled_hours here, so the same transaction that changes a minute row
    /// stops its hour's rollups from counting. The whole group at once: _rolledHours changes only after COMMIT, so
    /// publishing commit by commit would give readers back the hours an earlier commit of the group took away.
    /// </summary>
    private void UnrollTouchedHours(List<PendingCommit> group)
    {
        HashSet<long>? touched = group.Count == 1 ? null : new HashSet<long>();
        for (int c = 0; c < group.Count; c++)
        {
            IReadOnlyList<WindowRow> rows = group[c].Rows;
            var hours = new HashSet<long>();
            for (int i = 0; i < rows.Count; i++)
            {
                hours.Add(HourOf(rows[i].Key.Minute));
            }

            group[c].Hours = hours;
            touched?.UnionWith(hours);
        }

        touched ??= group[0].Hours!;
        StringBuilder? rolled = null;
        foreach (long hour in touched)
        {
            if (_rolledHours.Contains(hour))
            {
                (rolled ??= new StringBuilder("DELETE FROM rolled_hours WHERE hour IN (")).Append(hour).Append(',');
            }
        }

        if (rolled is not null)
        {
            // Readers stop using these hours' rollups before this transaction can commit.
            PublishRolledHours(_rolledHours.Where(hour => !touched.Contains(hour)));
            rolled[^1] = ')';
            DuckDbSql.Execute(_writer, rolled.ToString());
        }
    }

    /// <summary>After a commit's transaction committed, under the write lock: the writer's view follows the file.</summary>
    private void NoteCommittedHours(IReadOnlyList<WindowRow> rows, HashSet<long> hours)
    {
        _commitNumber++;
        for (int i = 0; i < rows.Count; i++)
        {
            _newestMinute = Math.Max(_newestMinute, rows[i].Key.Minute);
        }

        foreach (long hour in hours)
        {
            _rolledHours.Remove(hour);
            _unrolledHours[hour] = (_newestMinute, _commitNumber);
        }
    }

    /// <summary>Under _writeLock: readers take these hours (and no others) as rolled from now on.</summary>
    private void PublishRolledHours(IEnumerable<long> hours)
    {
        Volatile.Write(ref _readableRolledHours, hours.Order().ToArray());
    }

    private void ClearRollups()
    {
        PublishRolledHours([]);
        DuckDbSql.Execute(_writer, "DELETE FROM hour_rollups");
        DuckDbSql.Execute(_writer, "DELETE FROM rolled_hours");
    }

    private void NoteCleared()
    {
        _rolledHours.Clear();
        _unrolledHours.Clear();
        _newestMinute = long.MinValue;
        _commitNumber++;
        Volatile.Write(ref _unsortedRollupRows, 0);
    }

    private List<(long Hour, long CommitNumber)> PickHoursToRoll(long quietMinutes, bool includeNewestHour)
    {
        lock (_writeLock)
        {
            var due = new List<(long Hour, long CommitNumber)>();
            if (_disposed || _newestMinute == long.MinValue)
            {
                return due;
            }

            foreach (KeyValuePair<long, (long TouchedAtMinute, long CommitNumber)> entry in _unrolledHours)
            {
                long hour = entry.Key;
                bool ended = includeNewestHour || hour + HourMinutes + quietMinutes <= _newestMinute;
                bool quiet = entry.Value.TouchedAtMinute == long.MinValue || entry.Value.TouchedAtMinute + quietMinutes <= _newestMinute;
                if (ended && quiet)
                {
                    due.Add((hour, entry.Value.CommitNumber));
                }
            }

            due.Sort();
            return due;
        }
    }

    // Rolls the first hours of `due` whose minute rows fit one batch and takes them off `due`; returns how many it
    // rolled (an hour a commit touched since it was picked is left for a later round).
    private int RollBatch(List<(long Hour, long CommitNumber)> due)
    {
        var rollups = new Dictionary<(WindowScope Scope, string Id, string AdvertiserId, long Hour), HourRollup>();
        var taken = new List<(long Hour, long CommitNumber)>();
        long rowsRead = 0;
        using (ReaderLease lease = Read())
        {
            foreach ((long hour, long commitNumber) in due)
            {
                if (taken.Count > 0 && rowsRead >= RollBatchRowsMax)
                {
                    break;
                }

                rowsRead += ReadHourInto(lease.Connection, hour, rollups);
                taken.Add((hour, commitNumber));
            }
        }

        var sorted = new List<(long Key, WindowScope Scope, string Id, string AdvertiserId, long Hour, HourRollup Totals)>(rollups.Count);
        foreach (KeyValuePair<(WindowScope Scope, string Id, string AdvertiserId, long Hour), HourRollup> entry in rollups)
        {
            (WindowScope scope, string id, string advertiserId, long hour) = entry.Key;
            sorted.Add((IdKey(scope, id), scope, id, advertiserId, hour, entry.Value));
        }

        sorted.Sort(static (a, b) =>
        {
            int byKey = a.Key.CompareTo(b.Key);
            return byKey != 0 ? byKey : a.Hour.CompareTo(b.Hour);
        });

        AfterRollRead?.Invoke();
        lock (_writeLock)
        {
            if (_disposed)
            {
                due.Clear();
                return 0;
            }

            // Only hours no commit touched since they were picked: the minute rows read are then exactly theirs now.
            var current = new HashSet<long>();
            foreach ((long hour, long commitNumber) in taken)
            {
                if (_unrolledHours.TryGetValue(hour, out (long TouchedAtMinute, long CommitNumber) state) && state.CommitNumber == commitNumber)
                {
                    current.Add(hour);
                }
            }

            if (current.Count > 0)
            {
                WriteRollups(current, sorted);
            }

            due.RemoveRange(0, taken.Count);
            return current.Count;
        }
    }

    // Under _writeLock.
    private void WriteRollups(HashSet<long> hours, List<(long Key, WindowScope Scope, string Id, string AdvertiserId, long Hour, HourRollup Totals)> sorted)
    {
        string hourList = string.Join(",", hours);
        long written = 0;
        DuckDbSql.Execute(_writer, "BEGIN TRANSACTION");
        try
        {
            // Rollups of an earlier roll of these hours (they stopped counting when a commit touched the hour).
            DuckDbSql.Execute(_writer, $"DELETE FROM hour_rollups WHERE hour IN ({hourList})");
            using (DuckDBAppender appender = _writer.CreateAppender("hour_rollups"))
            {
                foreach ((long key, WindowScope scope, string id, string advertiserId, long hour, HourRollup totals) in sorted)
                {
                    if (!hours.Contains(hour))
                    {
                        continue;
                    }

                    totals.Append(appender.CreateRow().AppendValue(key).AppendValue((sbyte)scope).AppendValue(id).AppendValue(advertiserId).AppendValue(hour));
                    written++;
                }
            }

            DuckDbSql.Execute(_writer, $"INSERT INTO rolled_hours SELECT * FROM (VALUES {string.Join(",", hours.Select(h => "(" + h + ")"))})");
            DuckDbSql.Execute(_writer, "COMMIT");
        }
        catch
        {
            DuckDbSql.RollbackQuietly(_writer);
            throw;
        }

        foreach (long hour in hours)
        {
            _unrolledHours.Remove(hour);
            _rolledHours.Add(hour);
        }

        PublishRolledHours(_rolledHours);

        Interlocked.Add(ref _unsortedRollupRows, written);
    }

    private static long ReadHourInto(
        DuckDBConnection connection, long hour, Dictionary<(WindowScope Scope, string Id, string AdvertiserId, long Hour), HourRollup> rollups)
    {
        using DuckDBCommand command = DuckDbSql.Command(
            connection,
            "SELECT ad_id, campaign_id, advertiser_id, received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, "
            + "invalid_rate, invalid_unsigned, too_late, late_clicks, COALESCE(status, 0), COALESCE(revision, 0), users_sketch, "
            + $"COALESCE(rule_version, ''), minute FROM window_rows WHERE minute >= {hour} AND minute < {hour + HourMinutes}");
        using DuckDBDataReader reader = command.ExecuteReader();
        long rows = 0;
        while (reader.Read())
        {
            rows++;
            string advertiserId = reader.GetString(2);
            var numbers = new WindowNumbers(
                reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7),
                reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10), reader.GetInt64(11), reader.GetInt64(12), 0);
            var status = (WindowStatus)reader.GetFieldValue<sbyte>(13);
            long revision = reader.GetInt64(14);
            HyperLogLog users;
            using (Stream sketch = reader.GetStream(15))
            {
                var bytes = new byte[sketch.Length];
                sketch.ReadExactly(bytes);
                users = HyperLogLog.Deserialize(bytes);
            }

            string ruleVersion = reader.GetString(16);
            int minuteOfHour = (int)(reader.GetInt64(17) - hour);

            Add(rollups, (WindowScope.Ad, reader.GetString(0), advertiserId, hour), numbers, status, revision, users, ruleVersion)
                .AddMinuteClicks(minuteOfHour, numbers.Clicks);
            Add(rollups, (WindowScope.Campaign, reader.GetString(1), advertiserId, hour), numbers, status, revision, users, ruleVersion);
            Add(rollups, (WindowScope.Advertiser, advertiserId, advertiserId, hour), numbers, status, revision, users, ruleVersion);
        }

        return rows;
    }

    private static HourRollup Add(
        Dictionary<(WindowScope Scope, string Id, string AdvertiserId, long Hour), HourRollup> rollups,
        (WindowScope Scope, string Id, string AdvertiserId, long Hour) key,
        WindowNumbers numbers,
        WindowStatus status,
        long revision,
        HyperLogLog users,
        string ruleVersion)
    {
        if (!rollups.TryGetValue(key, out HourRollup? rollup))
        {
            rollup = new HourRollup();
            rollups.Add(key, rollup);
        }

        rollup.Add(numbers, status, status, revision, users);
        if (ruleVersion.Length > 0)
        {
            rollup.RuleVersions.Add(ruleVersion);
        }

        return rollup;
    }

    /// <summary>One hour's totals, built up the way a reader adds minutes (the same sums, merges and bounds).</summary>
    private sealed class HourRollup
    {
        private WindowNumbers _numbers;
        private WindowStatus _least = WindowStatus.Amended;
        private WindowStatus _most = WindowStatus.Open;
        private long _revision;
        private readonly HyperLogLog _users = new();

        // An ad's clicks per minute of the hour, packed (clicks << 6) | minute, in minute order; null for campaigns and
        // advertisers. A list of the minutes with clicks, not sixty slots: most ads click in a minute or two of an hour.
        private List<long>? _minuteClicks;

        public SortedSet<string> RuleVersions { get; } = new(StringComparer.Ordinal);

        public void AddMinuteClicks(int minuteOfHour, long clicks)
        {
            Debug.Assert(minuteOfHour is >= 0 and < (int)HourMinutes);
            _minuteClicks ??= new List<long>(1);
            if (clicks == 0)
            {
                return;
            }

            int index = _minuteClicks.FindIndex(packed => (packed & MinuteOfHourMask) >= minuteOfHour);
            if (index >= 0 && (_minuteClicks[index] & MinuteOfHourMask) == minuteOfHour)
            {
                _minuteClicks[index] += clicks << 6;
            }
            else
            {
                _minuteClicks.Insert(index >= 0 ? index : _minuteClicks.Count, (clicks << 6) | (long)minuteOfHour);
            }
        }

        public void Add(WindowNumbers b, WindowStatus least, WindowStatus most, long revision, HyperLogLog users)
        {
            _numbers = WindowNumbers.SumOf(_numbers, b);
            _least = least < _least ? least : _least;
            _most = most > _most ? most : _most;
            _revision += revision;
            _users.Merge(users);
        }

        public void Append(IDuckDBAppenderRow row)
        {
            Debug.Assert(_least <= _most);
            IDuckDBAppenderRow filled = row.AppendValue(_numbers.Received)
                .AppendValue(_numbers.Clicks)
                .AppendValue(_numbers.SpendMicros)
                .AppendValue(_numbers.DuplicateClicks)
                .AppendValue(_numbers.InvalidBadToken)
                .AppendValue(_numbers.InvalidBot)
                .AppendValue(_numbers.InvalidRate)
                .AppendValue(_numbers.InvalidUnsigned)
                .AppendValue(_numbers.TooLate)
                .AppendValue(_numbers.LateClicks)
                .AppendValue((sbyte)_least)
                .AppendValue((sbyte)_most)
                .AppendValue(_revision)
                .AppendValue(_users.Serialize())
                .AppendValue(string.Join(' ', RuleVersions));
            (_minuteClicks is null ? filled.AppendNullValue() : filled.AppendValue((IEnumerable<long>)_minuteClicks)).EndRow();
        }
    }
}

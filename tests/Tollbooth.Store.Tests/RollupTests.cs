// Goal: pre-rolled hours never change an answer. An ad's count and the hourly totals of an ad, a campaign or an
// advertiser (numbers, merged users to the byte, least and most status, summed revisions) are the same whether
// an hour is rolled or read from its minute rows: right after a roll, after late corrections and new rows land
// in rolled hours (before any re-roll), across a restart, after a clear and a different replay, when a commit
// races a roll, after the table is sorted again, and on a store upgraded from before rollups.
// Method: seeded random rows over six hours and a bit (several ads, advertisers sharing a campaign id, every
// status, sparse and dense sketches); the expected answers are computed in the test from the rows it committed
// (counts) and from the store's minute totals (ReadMinuteTotals, the path queries took before rollups).
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store.Tests;

public sealed class RollupTests : IDisposable
{
    private const long FirstMinute = 28_000_040; // 20 minutes into an hour: the first hour is partial
    private const int Minutes = 6 * 60 + 25;
    private static readonly string[] s_ads = ["ad0", "ad1", "ad2", "ad3", "ad4"];

    private readonly TempDirectory _directory = new();
    private readonly Random _random;
    private readonly Dictionary<WindowKey, WindowRow> _rows = new();
    private long _position;

    public RollupTests(ITestOutputHelper output)
    {
        _random = new Random(TestSeed.Next(output));
    }

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Rolled_hours_answer_exactly_as_minute_rows_do()
    {
        using DuckDbStore store = Open();
        CommitRandomRows(store, 400);
        AssertAnswersMatch(store);

        int rolled = store.RollUp(quietMinutes: 0, includeNewestHour: true);

        Assert.Equal(7, rolled);
        Assert.Equal(7, store.RolledHoursNow().Count);
        AssertAnswersMatch(store);
    }

    [Fact]
    public void A_late_correction_to_a_rolled_hour_counts_at_once_without_a_new_roll()
    {
        using DuckDbStore store = Open();
        CommitRandomRows(store, 400);
        store.RollUp(quietMinutes: 0, includeNewestHour: true);
        long corrected = HourOf(FirstMinute + 150);

        // New absolute values for rows already counted in the rolled hour, and a row it had not seen.
        var late = _rows.Values.Where(row => HourOf(row.Key.Minute) == corrected).Take(5).Select(Grown).ToList();
        late.Add(RandomRow(new WindowKey(corrected + 7, "ad9", "adv1", "c1", "p1", "DE", Device.Desktop), WindowStatus.Amended));
        Commit(store, late);

        Assert.DoesNotContain(corrected, store.RolledHoursNow());
        AssertAnswersMatch(store);

        store.RollUp(quietMinutes: 0, includeNewestHour: true);

        Assert.Contains(corrected, store.RolledHoursNow());
        AssertAnswersMatch(store);
    }

    [Fact]
    public void Rollups_survive_a_restart_and_a_correction_after_it()
    {
        using (DuckDbStore store = Open())
        {
            CommitRandomRows(store, 300);
            store.RollUp(quietMinutes: 0, includeNewestHour: true);
        }

        using DuckDbStore reopened = Open();
        Assert.Equal(7, reopened.RolledHoursNow().Count);
        AssertAnswersMatch(reopened);

        Commit(reopened, _rows.Values.Where(row => row.Key.Minute < FirstMinute + 100).Take(8).Select(Grown).ToList());
        AssertAnswersMatch(reopened);
        reopened.RollUp(quietMinutes: 0, includeNewestHour: true);
        AssertAnswersMatch(reopened);
    }

    [Fact]
    public void A_replay_after_a_clear_never_counts_the_old_rollups()
    {
        using DuckDbStore store = Open();
        CommitRandomRows(store, 300);
        store.RollUp(quietMinutes: 0, includeNewestHour: true);

        store.Clear();
        _rows.Clear();
        Assert.Empty(store.RolledHoursNow());
        AssertAnswersMatch(store);

        // The replay writes fewer rows than before: rollups of the first run would overcount.
        CommitRandomRows(store, 120);
        AssertAnswersMatch(store);
        store.RollUp(quietMinutes: 0, includeNewestHour: true);
        AssertAnswersMatch(store);
    }

    [Fact]
    public void A_commit_into_an_hour_while_it_is_being_rolled_keeps_that_hour_on_minute_rows()
    {
        using DuckDbStore store = Open();
        CommitRandomRows(store, 300);
        long raced = HourOf(FirstMinute + 200);
        store.AfterRollRead = () =>
        {
            store.AfterRollRead = null;
            Commit(store, _rows.Values.Where(row => HourOf(row.Key.Minute) == raced).Take(3).Select(Grown).ToList());
        };

        int rolled = store.RollUp(quietMinutes: 0, includeNewestHour: true);

        Assert.Equal(6, rolled);
        Assert.DoesNotContain(raced, store.RolledHoursNow());
        AssertAnswersMatch(store);
    }

    [Fact]
    public void Reads_racing_corrections_into_rolled_hours_and_new_rolls_always_see_one_committed_state()
    {
        using DuckDbStore store = Open();
        CommitRandomRows(store, 400);
        store.RollUp(quietMinutes: 0, includeNewestHour: true);
        long from = FirstMinute;
        long to = FirstMinute + Minutes;
        long Total() => _rows.Values.Where(row => row.Key.AdId == "ad0").Sum(row => row.Clicks);
        long CampaignTotal() => _rows.Values.Where(row => row.Key.CampaignId == "c0").Sum(row => row.Clicks);

        // Every total ad0 and c0 may show: each is added before the commit that makes it, and the committed one is kept.
        var possible = new HashSet<long> { Total() };
        var possibleCampaign = new HashSet<long> { CampaignTotal() };
        long committed = Total();
        var gate = new object();
        Exception? failure = null;
        int seed = _random.Next();
        void Write()
        {
            var random = new Random(seed);
            for (int i = 0; i < 60; i++)
            {
                long hour = HourOf(FirstMinute + random.Next(Minutes));
                var late = _rows.Values.Where(row => row.Key.AdId == "ad0" && HourOf(row.Key.Minute) == hour).Take(2).Select(Grown).ToList();
                if (late.Count == 0)
                {
                    continue;
                }

                lock (gate)
                {
                    foreach (WindowRow row in late)
                    {
                        _rows[row.Key] = row;
                    }

                    possible.Add(Total());
                    possibleCampaign.Add(CampaignTotal());
                }

                store.Commit(new PartitionCheckpoint(0, Interlocked.Increment(ref _position), 0), late);
                Volatile.Write(ref committed, Total());
                if (i % 4 == 3)
                {
                    store.RollUp(quietMinutes: 0, includeNewestHour: true);
                }
            }
        }

        var writer = new Thread(() =>
        {
            try
            {
                Write();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        writer.Start();

        int reads = 0;
        while (writer.IsAlive || reads < 20)
        {
            long before = Volatile.Read(ref committed);
            long count = store.SumClicks("ad0", from, to, DimensionFilter.None, null);
            long campaign = store.ReadHourTotals(new WindowSelector(WindowScope.Campaign, "c0", HourOf(from), HourOf(to) + 60, DimensionFilter.None, null))
                .Sum(totals => totals.Numbers.Clicks);
            lock (gate)
            {
                Assert.True(possible.Contains(count) && count >= before, $"read {count} clicks of ad0, which no committed state had (at least {before} were committed)");
                Assert.True(possibleCampaign.Contains(campaign), $"read {campaign} clicks of c0, which no committed state had");
            }

            reads++;
        }

        writer.Join();
        Assert.Null(failure);
        AssertAnswersMatch(store);
    }

    [Fact]
    public void Sorting_the_rollups_again_keeps_every_answer()
    {
        using DuckDbStore store = Open();
        CommitRandomRows(store, 300);
        store.RollUp(quietMinutes: 0, includeNewestHour: true);
        Commit(store, _rows.Values.Where(row => row.Key.Minute > FirstMinute + 300).Take(6).Select(Grown).ToList());
        store.RollUp(quietMinutes: 0, includeNewestHour: true);
        Assert.True(store.UnsortedRollupRows > 0);

        store.CompactWhenUnsorted(always: true);

        Assert.Equal(0, store.UnsortedRollupRows);
        AssertAnswersMatch(store);
        Assert.Equal(Sorted(RollupKeys(_directory.DatabasePath)), RollupKeys(_directory.DatabasePath));
    }

    [Fact]
    public void The_roller_waits_until_commits_left_an_hour_alone()
    {
        using DuckDbStore store = Open();
        CommitRandomRows(store, 300);

        // The newest minute is FirstMinute + Minutes - 1; only hours that ended 10 minutes before it and were last
        // touched 10 minutes before it are due (the rows were committed in one go, so all were touched at the end).
        Assert.Equal(0, store.RollUp());

        Commit(store, [RandomRow(new WindowKey(FirstMinute + Minutes + DuckDbStore.RollQuietMinutes, "ad0", "adv0", "c0", "p0", "", Device.Mobile), WindowStatus.Open)]);
        int rolled = store.RollUp();

        Assert.Equal(6, rolled);
        Assert.DoesNotContain(HourOf(FirstMinute + Minutes + DuckDbStore.RollQuietMinutes), store.RolledHoursNow());
        AssertAnswersMatch(store);
    }

    [Fact]
    public void The_background_roller_rolls_hours_on_its_own()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        CommitRandomRows(store, 200);
        Commit(store, [RandomRow(new WindowKey(FirstMinute + Minutes + 100, "ad0", "adv0", "c0", "p0", "", Device.Mobile), WindowStatus.Open)]);

        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (store.RolledHoursNow().Count < 7 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }

        Assert.Equal(7, store.RolledHoursNow().Count);
        AssertAnswersMatch(store);
    }

    [Fact]
    public void A_store_from_before_rollups_answers_the_same_and_rolls_its_hours()
    {
        using (DuckDbStore store = Open())
        {
            CommitRandomRows(store, 300);
        }

        // Back to schema version 4: rows, no rollup tables or owner epochs (versions 5 to 7 run again).
        Execute(_directory.DatabasePath, "DROP TABLE hour_rollups; DROP TABLE rolled_hours; DROP TABLE partition_owners; DELETE FROM schema_version WHERE version >= 5");

        using DuckDbStore upgraded = Open();
        Assert.Empty(upgraded.RolledHoursNow());
        AssertAnswersMatch(upgraded);
        upgraded.RollUp(quietMinutes: 0, includeNewestHour: true);
        Assert.Equal(7, upgraded.RolledHoursNow().Count);
        AssertAnswersMatch(upgraded);
    }

    private DuckDbStore Open() => DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);

    private static long HourOf(long minute) => minute - (minute % 60);

    private void CommitRandomRows(DuckDbStore store, int count)
    {
        var rows = new Dictionary<WindowKey, WindowRow>();
        while (rows.Count < count)
        {
            int ad = _random.Next(s_ads.Length);

            // ad3 belongs to adv1 but shares campaign c0 with adv0's ads; ad4 has rows under both advertisers.
            string advertiser = ad is 3 || (ad == 4 && _random.Next(2) == 0) ? "adv1" : "adv0";
            var key = new WindowKey(
                FirstMinute + _random.Next(Minutes),
                s_ads[ad],
                advertiser,
                ad <= 3 ? "c0" : "c1",
                "p" + _random.Next(3),
                TestRows.Countries[_random.Next(TestRows.Countries.Length)],
                (Device)_random.Next(6));
            rows[key] = RandomRow(key, (WindowStatus)_random.Next(4));
        }

        Commit(store, rows.Values.ToList());
    }

    private WindowRow RandomRow(WindowKey key, WindowStatus status)
    {
        var row = new WindowRow(key)
        {
            Clicks = _random.Next(0, 1000),
            SpendMicros = _random.Next(0, 1_000_000),
            DuplicateClicks = _random.Next(0, 20),
            InvalidBadToken = _random.Next(0, 5),
            InvalidBot = _random.Next(0, 5),
            InvalidRate = _random.Next(0, 5),
            InvalidUnsigned = _random.Next(0, 5),
            TooLate = _random.Next(0, 5),
            Status = status,
            Revision = (long)status + _random.Next(3),

            // Rows written before rule set versions had none; the others name one of a few versions.
            RuleVersion = _random.Next(4) switch { 0 => "", 1 => "00000000000000aa", 2 => "00000000000000bb", _ => "00000000000000cc" },
        };
        row.LateClicks = _random.Next(0, (int)row.Clicks + 1);
        row.Received = row.Clicks + row.DuplicateClicks + row.InvalidClicks + row.TooLate;
        int users = _random.Next(8) == 0 ? _random.Next(HyperLogLog.SparseMax, 2000) : _random.Next(0, 30);
        for (int i = 0; i < users; i++)
        {
            row.Users.AddUser("u" + _random.Next(3000));
        }

        return row;
    }

    // The row a processor writes after more clicks reached it: everything grew, and a final one became amended.
    private WindowRow Grown(WindowRow row)
    {
        WindowRow grown = row.Clone();
        long more = 1 + _random.Next(50);
        grown.Clicks += more;
        grown.Received += more;
        grown.LateClicks += more;
        grown.SpendMicros += 1000 * more;
        grown.Users.AddUser("late-user-" + _random.Next(100));
        grown.Status = grown.Status >= WindowStatus.Final ? WindowStatus.Amended : grown.Status;
        grown.Revision++;
        return grown;
    }

    private void Commit(DuckDbStore store, List<WindowRow> rows)
    {
        foreach (WindowRow row in rows)
        {
            _rows[row.Key] = row;
        }

        store.Commit(new PartitionCheckpoint(0, ++_position, 0), rows);
    }

    private void AssertAnswersMatch(DuckDbStore store)
    {
        // An ad's count takes one statement over rollups and minute ranges while few minutes of its range are not
        // rolled, else the ad_id index for an ad with rows in few rolled hours, else minute ranges: every way must
        // answer the same, so each is forced in turn.
        int sparseAdHoursMax = DuckDbStore.SparseAdHoursMax;
        long oneStatementMinutesMax = DuckDbStore.OneStatementMinutesMax;
        try
        {
            AssertAnswersMatchOnce(store);
            DuckDbStore.SparseAdHoursMax = 0;
            AssertAnswersMatchOnce(store);
            DuckDbStore.OneStatementMinutesMax = 0;
            AssertAnswersMatchOnce(store);
            DuckDbStore.SparseAdHoursMax = sparseAdHoursMax;
            AssertAnswersMatchOnce(store);
            DuckDbStore.OneStatementMinutesMax = long.MaxValue;
            AssertAnswersMatchOnce(store);
        }
        finally
        {
            DuckDbStore.SparseAdHoursMax = sparseAdHoursMax;
            DuckDbStore.OneStatementMinutesMax = oneStatementMinutesMax;
        }
    }

    private void AssertAnswersMatchOnce(DuckDbStore store)
    {
        long hourAligned = HourOf(FirstMinute) + 60;
        (long From, long To)[] ranges =
        [
            (FirstMinute, FirstMinute + Minutes),
            (FirstMinute - 600, FirstMinute + Minutes + 600),
            (hourAligned, hourAligned + 240),
            (FirstMinute + 37, FirstMinute + 333),
            (hourAligned + 5, hourAligned + 50),
            (hourAligned + 120, hourAligned + 120),
        ];
        foreach ((long from, long to) in ranges)
        {
            foreach (string? advertiser in new[] { null, "adv0", "adv1", "adv9" })
            {
                foreach (string ad in s_ads.Append("ad9").Append("nobody"))
                {
                    long expected = _rows.Values
                        .Where(row => row.Key.AdId == ad && row.Key.Minute >= from && row.Key.Minute < to && (advertiser is null || row.Key.AdvertiserId == advertiser))
                        .Sum(row => row.Clicks);
                    Assert.Equal(expected, store.SumClicks(ad, from, to, DimensionFilter.None, advertiser));
                }

                foreach ((WindowScope scope, string id) in new[]
                {
                    (WindowScope.Ad, "ad4"), (WindowScope.Ad, "ad1"), (WindowScope.Campaign, "c0"), (WindowScope.Campaign, "c1"),
                    (WindowScope.Advertiser, "adv0"), (WindowScope.Advertiser, "adv1"),
                })
                {
                    var selector = new WindowSelector(scope, id, from, to, DimensionFilter.None, advertiser);
                    Assert.Equal(ByHour(store.ReadMinuteTotals(selector, Breakdown.None)), ByHour(store.ReadHourTotals(selector)));
                }
            }
        }

        // A dimension filter is never answered from rollups: still the minute rows' answer.
        var filter = new DimensionFilter(null, "p1", null, null);
        long filtered = _rows.Values.Where(row => row.Key.AdId == "ad0" && row.Key.PublisherId == "p1").Sum(row => row.Clicks);
        Assert.Equal(filtered, store.SumClicks("ad0", FirstMinute - 60, FirstMinute + Minutes + 60, filter, null));
    }

    // Totals folded into UTC hours the way a reader folds them, with the merged sketch's bytes.
    private static List<string> ByHour(IReadOnlyList<MinuteTotals> totals)
    {
        var hours = new List<string>();
        for (int i = 0; i < totals.Count;)
        {
            long hour = HourOf(totals[i].Minute);
            WindowNumbers sum = default;
            var users = new HyperLogLog();
            var least = WindowStatus.Amended;
            var most = WindowStatus.Open;
            long revision = 0;
            var ruleVersions = new SortedSet<string>(StringComparer.Ordinal);
            for (; i < totals.Count && HourOf(totals[i].Minute) == hour; i++)
            {
                ruleVersions.UnionWith(totals[i].RuleVersions);
                WindowNumbers n = totals[i].Numbers;
                sum = new WindowNumbers(
                    sum.Received + n.Received, sum.Clicks + n.Clicks, sum.SpendMicros + n.SpendMicros, sum.DuplicateClicks + n.DuplicateClicks,
                    sum.InvalidBadToken + n.InvalidBadToken, sum.InvalidBot + n.InvalidBot, sum.InvalidRate + n.InvalidRate,
                    sum.InvalidUnsigned + n.InvalidUnsigned, sum.TooLate + n.TooLate, sum.LateClicks + n.LateClicks, 0);
                users.Merge(totals[i].Users);
                least = totals[i].LeastStatus < least ? totals[i].LeastStatus : least;
                most = totals[i].MostStatus > most ? totals[i].MostStatus : most;
                revision += totals[i].Revision;
            }

            hours.Add($"{hour} {sum} users {users.Estimate()} {Convert.ToHexString(users.Serialize())} status {least}..{most} revision {revision} rules {string.Join(',', ruleVersions)}");
        }

        return hours;
    }

    private static List<(long Key, long Hour)> RollupKeys(string path)
    {
        using var connection = new DuckDBConnection("Data Source=" + path);
        connection.Open();
        using DuckDBCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id_key, hour FROM hour_rollups";
        using DuckDBDataReader reader = command.ExecuteReader();
        var keys = new List<(long, long)>();
        while (reader.Read())
        {
            keys.Add((reader.GetInt64(0), reader.GetInt64(1)));
        }

        return keys;
    }

    private static List<(long Key, long Hour)> Sorted(List<(long Key, long Hour)> keys) => keys.Order().ToList();

    private static void Execute(string path, string sql)
    {
        using var connection = new DuckDBConnection("Data Source=" + path);
        connection.Open();
        using DuckDBCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

using System.Text;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// Reads that use the pre-rolled hours: the rolled hours of a range from hour_rollups, every other minute of it
/// (the edges, hours not rolled yet, hours a commit touched since their roll) from window_rows, all in one
/// transaction, so both sides see the same rolled_hours and the same rows.
/// </summary>
public sealed partial class DuckDbStore : IHourTotalsReader
{
    // Minute ranges read as one UNION ALL branch each (DuckDB skips row groups by min/max only for an AND of
    // bounds, not for an OR of ranges); past this many, the closest ones are read as one that leaves the rolled
    // hours between them out.
    private const int MinuteRangesMax = 12;

    // Rolled hours with rows of an ad up to which its minute rows are read through DuckDB's ad_id index (tests set
    // it to 0 to take the other way, which answers the same).
    internal static int SparseAdHoursMax { get; set; } = 24;

    public IReadOnlyList<MinuteTotals> ReadHourTotals(WindowSelector selector)
    {
        if (!RollupsAnswer(selector.Filter) || WholeHours(selector.FromMinute, selector.ToMinute) is not { } whole)
        {
            return ReadMinuteTotals(selector, Breakdown.None);
        }

        (long firstHour, long endHour) = whole;

        using ReaderLease lease = Read();
        DuckDBConnection connection = lease.Connection;
        using DuckDBTransaction snapshot = connection.BeginTransaction();
        List<long> rolled = RolledHours(connection, firstHour, endHour);
        var totals = new List<MinuteTotals>();
        if (rolled.Count > 0)
        {
            using DuckDBCommand command = connection.CreateCommand();
            var sql = new StringBuilder(
                "SELECT hour, received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, invalid_rate, invalid_unsigned, "
                + "too_late, late_clicks, least_status, most_status, revision, users_sketch, rule_versions FROM hour_rollups WHERE ");
            AppendRollupMatch(command, sql, selector.Scope, selector.Id, selector.AdvertiserId, firstHour, endHour);
            command.CommandText = sql.Append(" ORDER BY hour").ToString();
            using DuckDBDataReader reader = command.ExecuteReader();
            while (reader.Read())
            {
                var hour = new MinuteTotals(reader.GetInt64(0), null)
                {
                    Numbers = new WindowNumbers(
                        reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5),
                        reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10), 0),
                    LeastStatus = (WindowStatus)reader.GetFieldValue<sbyte>(11),
                    MostStatus = (WindowStatus)reader.GetFieldValue<sbyte>(12),
                    Revision = reader.GetInt64(13),
                    Users = HyperLogLog.Deserialize(ReadAll(reader.GetStream(14))),
                };
                hour.Numbers = hour.Numbers with { UniqueUsers = hour.Users.Estimate() };
                hour.RuleVersions.UnionWith(reader.GetString(15).Split(' ', StringSplitOptions.RemoveEmptyEntries));
                totals.Add(hour);
            }
        }

        List<(long From, long To)> ranges = MinuteRanges(selector.FromMinute, selector.ToMinute, rolled);
        if (ranges.Count > 0)
        {
            using DuckDBCommand command = connection.CreateCommand();
            var sql = new StringBuilder("SELECT minute, NULL, ").Append(SumColumns).Append(" FROM (");
            AppendMinuteBranches(
                command, sql, "minute, received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, invalid_rate, "
                + "invalid_unsigned, too_late, late_clicks, status, revision, users_sketch, rule_version",
                ScopeColumn(selector.Scope), selector.Id, selector.AdvertiserId, ranges, rolled);
            command.CommandText = sql.Append(") GROUP BY minute ORDER BY minute").ToString();
            List<MinuteTotals> minutes = ReadTotals(command);
            totals = Merge(totals, minutes);
        }

        return totals;
    }

    // SumClicks of an ad over a range holding at least one whole hour, without dimension filters.
    private long SumClicksWithRollups(string adId, long fromMinute, long toMinute, string? advertiserId, long firstHour, long endHour)
    {
        using ReaderLease lease = Read();
        DuckDBConnection connection = lease.Connection;
        using DuckDBTransaction snapshot = connection.BeginTransaction();
        List<long> rolled = RolledHours(connection, firstHour, endHour);
        if (SumClicksOfSparseAd(connection, adId, fromMinute, toMinute, advertiserId, firstHour, endHour, rolled) is long sparse)
        {
            return sparse;
        }
        using DuckDBCommand command = connection.CreateCommand();
        var sql = new StringBuilder("SELECT CAST(COALESCE(SUM(clicks), 0) AS BIGINT) FROM (");
        bool first = true;
        if (rolled.Count > 0)
        {
            sql.Append("SELECT clicks FROM hour_rollups WHERE ");
            AppendRollupMatch(command, sql, WindowScope.Ad, adId, advertiserId, firstHour, endHour);
            first = false;
        }

        List<(long From, long To)> ranges = MinuteRanges(fromMinute, toMinute, rolled);
        if (ranges.Count > 0)
        {
            if (!first)
            {
                sql.Append(" UNION ALL ");
            }

            AppendMinuteBranches(command, sql, "clicks", "ad_id", adId, advertiserId, ranges, rolled);
        }

        command.CommandText = sql.Append(')').ToString();
        return (long)command.ExecuteScalar()!;
    }

    // An ad with rows in few rolled hours likely has few minute rows at all: DuckDB finds those through its ad_id
    // index, but only for a query whose one filter is that equality, so the rest is filtered here. Null when the ad
    // has rows in more rolled hours than SparseAdHoursMax (then minute ranges scan cheaper than index hits).
    private static long? SumClicksOfSparseAd(
        DuckDBConnection connection, string adId, long fromMinute, long toMinute, string? advertiserId, long firstHour, long endHour, List<long> rolled)
    {
        long clicks = 0;
        int hours = 0;
        if (rolled.Count > 0)
        {
            using DuckDBCommand command = connection.CreateCommand();
            var sql = new StringBuilder("SELECT advertiser_id, clicks FROM hour_rollups WHERE ");
            AppendRollupMatch(command, sql, WindowScope.Ad, adId, null, firstHour, endHour);
            command.CommandText = sql.Append(" LIMIT ").Append(SparseAdHoursMax + 1).ToString();
            using DuckDBDataReader reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (++hours > SparseAdHoursMax)
                {
                    return null;
                }

                clicks += advertiserId is null || reader.GetString(0) == advertiserId ? reader.GetInt64(1) : 0;
            }
        }

        var rolledSet = new HashSet<long>(rolled);
        using DuckDBCommand minutes = DuckDbSql.Command(connection, "SELECT minute, advertiser_id, clicks FROM window_rows WHERE ad_id = $ad_id");
        DuckDbSql.Add(minutes, "ad_id", adId);
        using DuckDBDataReader rows = minutes.ExecuteReader();
        while (rows.Read())
        {
            long minute = rows.GetInt64(0);
            if (minute >= fromMinute && minute < toMinute && !rolledSet.Contains(HourOf(minute)) && (advertiserId is null || rows.GetString(1) == advertiserId))
            {
                clicks += rows.GetInt64(2);
            }
        }

        return clicks;
    }

    // Only the filters a rollup keeps apart: none but the advertiser (tenancy), which is part of its key.
    private static bool RollupsAnswer(DimensionFilter filter) =>
        !filter.NeedsRawEvents && filter.CampaignId is null && filter.PublisherId is null && filter.Country is null && filter.Device is null;

    // The whole hours inside [from, to), or null when there is none.
    private static (long FirstHour, long EndHour)? WholeHours(long fromMinute, long toMinute)
    {
        long firstHour = HourOf(fromMinute) == fromMinute ? fromMinute : HourOf(fromMinute) + HourMinutes;
        long endHour = HourOf(toMinute);
        return endHour > firstHour ? (firstHour, endHour) : null;
    }

    private static List<long> RolledHours(DuckDBConnection connection, long firstHour, long endHour)
    {
        using DuckDBCommand command = DuckDbSql.Command(
            connection, $"SELECT hour FROM rolled_hours WHERE hour >= {firstHour} AND hour < {endHour} ORDER BY hour");
        using DuckDBDataReader reader = command.ExecuteReader();
        var hours = new List<long>();
        while (reader.Read())
        {
            hours.Add(reader.GetInt64(0));
        }

        return hours;
    }

    private static void AppendRollupMatch(DuckDBCommand command, StringBuilder sql, WindowScope scope, string id, string? advertiserId, long firstHour, long endHour)
    {
        // id_key first: the table is sorted by it, so its min/max per row group skips the other keys' rows.
        sql.Append("id_key = ").Append(IdKey(scope, id)).Append(" AND scope = ").Append((int)scope).Append(" AND id = $rollup_id")
            .Append(" AND hour >= ").Append(firstHour).Append(" AND hour < ").Append(endHour)
            .Append(" AND hour IN (SELECT hour FROM rolled_hours)");
        DuckDbSql.Add(command, "rollup_id", id);
        if (advertiserId is not null)
        {
            sql.Append(" AND advertiser_id = $rollup_advertiser_id");
            DuckDbSql.Add(command, "rollup_advertiser_id", advertiserId);
        }
    }

    // One branch per range; rows of rolled hours are left out by every branch, so ranges may cover them.
    private static void AppendMinuteBranches(
        DuckDBCommand command, StringBuilder sql, string columns, string scopeColumn, string id, string? advertiserId,
        List<(long From, long To)> ranges, List<long> rolled)
    {
        ranges = MergeClosest(ranges);

        DuckDbSql.Add(command, "minute_id", id);
        if (advertiserId is not null)
        {
            DuckDbSql.Add(command, "minute_advertiser_id", advertiserId);
        }

        for (int i = 0; i < ranges.Count; i++)
        {
            sql.Append(i == 0 ? "" : " UNION ALL ").Append("SELECT ").Append(columns).Append(" FROM window_rows WHERE ")
                .Append(scopeColumn).Append(" = $minute_id AND minute >= ").Append(ranges[i].From).Append(" AND minute < ").Append(ranges[i].To);
            if (advertiserId is not null)
            {
                sql.Append(" AND advertiser_id = $minute_advertiser_id");
            }

            if (RangeCoversRolledHour(ranges[i], rolled))
            {
                sql.Append(" AND ").Append(HourOfMinute).Append(" NOT IN (").AppendJoin(',', rolled).Append(')');
            }
        }
    }

    private static bool RangeCoversRolledHour((long From, long To) range, List<long> rolled)
    {
        int index = rolled.BinarySearch(HourOf(range.From));
        int first = index >= 0 ? index : ~index;
        return first < rolled.Count && rolled[first] < range.To;
    }

    // [from, to) without the rolled hours, as ascending disjoint ranges.
    private static List<(long From, long To)> MinuteRanges(long fromMinute, long toMinute, List<long> rolled)
    {
        var ranges = new List<(long From, long To)>();
        long start = fromMinute;
        foreach (long hour in rolled)
        {
            if (hour > start)
            {
                ranges.Add((start, hour));
            }

            start = hour + HourMinutes;
        }

        if (toMinute > start)
        {
            ranges.Add((start, toMinute));
        }

        return ranges;
    }

    // At most MinuteRangesMax ranges: the two with the smallest gap between them become one, until few enough.
    private static List<(long From, long To)> MergeClosest(List<(long From, long To)> ranges)
    {
        var merged = new List<(long From, long To)>(ranges);
        while (merged.Count > MinuteRangesMax)
        {
            int closest = 0;
            for (int i = 1; i < merged.Count - 1; i++)
            {
                if (merged[i + 1].From - merged[i].To < merged[closest + 1].From - merged[closest].To)
                {
                    closest = i;
                }
            }

            merged[closest] = (merged[closest].From, merged[closest + 1].To);
            merged.RemoveAt(closest + 1);
        }

        return merged;
    }

    private static List<MinuteTotals> Merge(List<MinuteTotals> hours, List<MinuteTotals> minutes)
    {
        if (hours.Count == 0)
        {
            return minutes;
        }

        var merged = new List<MinuteTotals>(hours.Count + minutes.Count);
        int h = 0;
        int m = 0;
        while (h < hours.Count || m < minutes.Count)
        {
            bool takeHour = m == minutes.Count || (h < hours.Count && hours[h].Minute <= minutes[m].Minute);
            merged.Add(takeHour ? hours[h++] : minutes[m++]);
        }

        return merged;
    }
}

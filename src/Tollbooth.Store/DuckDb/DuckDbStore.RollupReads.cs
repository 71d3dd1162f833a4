using System.Text;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// Reads that use the pre-rolled hours: the rolled hours of a range from hour_rollups, every other minute of it
/// (the edges, hours not rolled yet, hours a commit touched since their roll) from window_rows, in one statement
/// where it can. Which hours are rolled comes from memory (<c>_readableRolledHours</c>), not from rolled_hours: an
/// hour there has its rollups committed and untouched in any snapshot taken while that array is current, so a read
/// that finds the same array current after its statements ran has an answer of one state of the store; else it
/// reads again.
/// </summary>
public sealed partial class DuckDbStore : IHourTotalsReader
{
    // Minute ranges read as one UNION ALL branch each (DuckDB skips row groups by min/max only for an AND of
    // bounds, not for an OR of ranges); past this many, the closest ones are read as one that leaves the rolled
    // hours between them out.
    private const int MinuteRangesMax = 12;

    // Reads again at most this often when rolls or corrections changed the rolled hours under it, then reads minute rows.
    private const int RolledHoursAttemptsMax = 4;

    // Up to this many minutes of an ad's range not rolled, its count is one statement over rollups and minute ranges;
    // past it, an ad with rows in few rolled hours reads its minute rows through the ad_id index instead.
    private const long UnrolledMinutesOneStatementMax = 6 * 60;

    // Rolled hours with rows of an ad up to which its minute rows are read through DuckDB's ad_id index (tests set
    // it to 0 to take the other way, which answers the same).
    internal static int SparseAdHoursMax { get; set; } = 24;

    // Tests set it to 0 to take the two-statement way for every count, which answers the same.
    internal static long OneStatementMinutesMax { get; set; } = UnrolledMinutesOneStatementMax;

    public IReadOnlyList<MinuteTotals> ReadHourTotals(WindowSelector selector)
    {
        if (!RollupsAnswer(selector.Filter) || WholeHours(selector.FromMinute, selector.ToMinute) is not { } whole)
        {
            return ReadMinuteTotals(selector, Breakdown.None);
        }

        for (int attempt = 0; attempt < RolledHoursAttemptsMax; attempt++)
        {
            long[] readable = Volatile.Read(ref _readableRolledHours);
            List<long> rolled = RolledWithin(readable, whole.FirstHour, whole.EndHour);
            if (rolled.Count == 0)
            {
                break;
            }

            List<MinuteTotals> totals = ReadHourAndMinuteTotals(selector, rolled);
            if (ReferenceEquals(readable, Volatile.Read(ref _readableRolledHours)))
            {
                return totals;
            }
        }

        return ReadMinuteTotals(selector, Breakdown.None);
    }

    // Rolled hours and the minutes around them as rows of one shape, in minute order (an hour's row at its first minute).
    private List<MinuteTotals> ReadHourAndMinuteTotals(WindowSelector selector, List<long> rolled)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        var sql = new StringBuilder();
        List<(long From, long To)> ranges = MinuteRanges(selector.FromMinute, selector.ToMinute, rolled);
        if (ranges.Count > 0)
        {
            sql.Append("SELECT minute, NULL, ").Append(SumColumns).Append(", NULL::BLOB, NULL::VARCHAR FROM (");
            AppendMinuteBranches(
                command, sql, "minute, received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, invalid_rate, "
                + "invalid_unsigned, too_late, late_clicks, status, revision, users_sketch, rule_version",
                ScopeColumn(selector.Scope), selector.Id, selector.AdvertiserId, ranges, rolled);
            sql.Append(") GROUP BY minute UNION ALL ");
        }

        // A rolled hour's sketch and rule versions in columns of their own, as stored (see ReadTotals).
        sql.Append(
            "SELECT hour, NULL, received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, invalid_rate, invalid_unsigned, "
            + "too_late, late_clicks, least_status, most_status, revision, NULL, NULL, users_sketch, rule_versions FROM hour_rollups WHERE ");
        AppendRollupMatch(sql, selector.Scope, IdKey(selector.Scope, selector.Id), selector.AdvertiserId is not null, rolled);
        AddRollupParameters(command, selector.Id, selector.AdvertiserId);
        command.CommandText = sql.Append(" ORDER BY 1").ToString();
        return ReadTotals(command);
    }

    // SumClicks of an ad without dimension filters, from the rolled hours the range touches (whole, or the minutes of
    // an edge hour from its minute_clicks) and minute rows for the rest; null when the range touches no rolled hour.
    private long? SumClicksWithRollups(string adId, long fromMinute, long toMinute, string? advertiserId)
    {
        for (int attempt = 0; attempt < RolledHoursAttemptsMax; attempt++)
        {
            long[] readable = Volatile.Read(ref _readableRolledHours);
            List<long> rolled = RolledWithin(readable, HourOf(fromMinute), toMinute);
            if (rolled.Count == 0)
            {
                return null;
            }

            long clicks = SumClicksOnce(adId, fromMinute, toMinute, advertiserId, rolled);
            if (ReferenceEquals(readable, Volatile.Read(ref _readableRolledHours)))
            {
                return clicks;
            }
        }

        return null;
    }

    // `rolled`: the rolled hours that [fromMinute, toMinute) touches, the first and last perhaps only in part.
    private long SumClicksOnce(string adId, long fromMinute, long toMinute, string? advertiserId, List<long> rolled)
    {
        using ReaderLease lease = Read();
        DuckDBConnection connection = lease.Connection;
        List<(long From, long To)> ranges = MinuteRanges(fromMinute, toMinute, rolled);
        var whole = rolled.FindAll(hour => hour >= fromMinute && hour + HourMinutes <= toMinute);
        long unrolledMinutes = ranges.Sum(range => range.To - range.From);
        if (unrolledMinutes > OneStatementMinutesMax
            && SumClicksOfSparseAd(connection, adId, fromMinute, toMinute, advertiserId, whole) is long sparse)
        {
            return sparse;
        }

        using DuckDBCommand command = connection.CreateCommand();
        var sql = new StringBuilder("SELECT CAST(COALESCE(SUM(c), 0) AS BIGINT) FROM (");
        long key = IdKey(WindowScope.Ad, adId);
        var branches = 0;
        if (whole.Count > 0)
        {
            sql.Append("SELECT clicks AS c FROM hour_rollups WHERE ");
            AppendRollupMatch(sql, WindowScope.Ad, key, advertiserId is not null, whole);
            branches++;
        }

        // An edge hour's minutes in the range, from the packed (clicks << 6) | minute entries of its rollup.
        foreach (long hour in rolled)
        {
            if (hour >= fromMinute && hour + HourMinutes <= toMinute)
            {
                continue;
            }

            long first = Math.Max(fromMinute, hour) - hour;
            long end = Math.Min(toMinute, hour + HourMinutes) - hour;
            sql.Append(branches++ == 0 ? "" : " UNION ALL ")
                .Append("SELECT list_sum(list_transform(list_filter(minute_clicks, x -> (x & 63) >= ").Append(first)
                .Append(" AND (x & 63) < ").Append(end).Append("), x -> x >> 6)) AS c FROM hour_rollups WHERE ");
            AppendRollupMatch(sql, WindowScope.Ad, key, advertiserId is not null, [hour]);
        }

        AddRollupParameters(command, adId, advertiserId);
        if (ranges.Count > 0)
        {
            sql.Append(branches == 0 ? "" : " UNION ALL ");
            AppendMinuteBranches(command, sql, "clicks", "ad_id", adId, advertiserId, ranges, rolled);
        }

        command.CommandText = sql.Append(')').ToString();
        return (long)command.ExecuteScalar()!;
    }

    // An ad with rows in few rolled hours likely has few minute rows at all: DuckDB finds those through its ad_id
    // index, but only for a query whose one filter is that equality, so the rest is filtered here. Null when the ad
    // has rows in more rolled hours than SparseAdHoursMax (then minute ranges scan cheaper than index hits).
    private static long? SumClicksOfSparseAd(
        DuckDBConnection connection, string adId, long fromMinute, long toMinute, string? advertiserId, List<long> rolled)
    {
        long clicks = 0;
        int hours = 0;
        if (rolled.Count > 0)
        {
            using DuckDBCommand command = connection.CreateCommand();
            var sql = new StringBuilder("SELECT advertiser_id, clicks FROM hour_rollups WHERE ");
            AppendRollupMatch(sql, WindowScope.Ad, IdKey(WindowScope.Ad, adId), byAdvertiser: false, rolled);
            AddRollupParameters(command, adId, null);
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

        // A second statement, so a second snapshot: the rolled hours' rollups are the same in both (the caller checks
        // that no commit took one of them out meanwhile), and the minute rows read are those of this one.
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

    // The readable rolled hours in [firstHour, endHour), in order.
    private static List<long> RolledWithin(long[] readable, long firstHour, long endHour)
    {
        int index = Array.BinarySearch(readable, firstHour);
        var hours = new List<long>();
        for (int i = index >= 0 ? index : ~index; i < readable.Length && readable[i] < endHour; i++)
        {
            hours.Add(readable[i]);
        }

        return hours;
    }

    // Rows of one id (and advertiser, when byAdvertiser) in the given hours; its parameters come from AddRollupParameters.
    private static void AppendRollupMatch(StringBuilder sql, WindowScope scope, long key, bool byAdvertiser, List<long> hours)
    {
        // id_key first: the table is sorted by it, so its min/max per row group skips the other keys' rows.
        sql.Append("id_key = ").Append(key).Append(" AND scope = ").Append((int)scope).Append(" AND id = $rollup_id AND (");

        // The hours as runs of consecutive hours: one or a few bounds instead of a list of every hour.
        for (int i = 0; i < hours.Count;)
        {
            int end = i + 1;
            while (end < hours.Count && hours[end] == hours[end - 1] + HourMinutes)
            {
                end++;
            }

            sql.Append(i == 0 ? "" : " OR ").Append("(hour >= ").Append(hours[i]).Append(" AND hour <= ").Append(hours[end - 1]).Append(')');
            i = end;
        }

        sql.Append(')');
        if (byAdvertiser)
        {
            sql.Append(" AND advertiser_id = $rollup_advertiser_id");
        }
    }

    private static void AddRollupParameters(DuckDBCommand command, string id, string? advertiserId)
    {
        DuckDbSql.Add(command, "rollup_id", id);
        if (advertiserId is not null)
        {
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
}

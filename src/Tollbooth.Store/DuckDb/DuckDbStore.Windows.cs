using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>The read side of the queries: per-minute sums, top ads per partition and the changes feed.</summary>
public sealed partial class DuckDbStore
{
    private const string SumColumns =
        "CAST(SUM(received) AS BIGINT), CAST(SUM(clicks) AS BIGINT), CAST(SUM(spend_micros) AS BIGINT), "
        + "CAST(SUM(duplicate_clicks) AS BIGINT), CAST(SUM(invalid_bad_token) AS BIGINT), CAST(SUM(invalid_bot) AS BIGINT), "
        + "CAST(SUM(invalid_rate) AS BIGINT), CAST(SUM(invalid_unsigned) AS BIGINT), CAST(SUM(too_late) AS BIGINT), "
        + "CAST(SUM(late_clicks) AS BIGINT), CAST(MIN(COALESCE(status, 0)) AS TINYINT), CAST(MAX(COALESCE(status, 0)) AS TINYINT), "
        + "CAST(SUM(COALESCE(revision, 0)) AS BIGINT), LIST(users_sketch), LIST(DISTINCT rule_version) FILTER (WHERE rule_version <> '')";

    public IReadOnlyList<MinuteTotals> ReadMinuteTotals(WindowSelector selector, Breakdown breakdown)
    {
        string? group = GroupColumn(breakdown);
        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        var sql = new StringBuilder("SELECT minute, ")
            .Append(group is null ? "NULL" : $"CAST({group} AS VARCHAR)")
            .Append(", ").Append(SumColumns).Append(" FROM window_rows WHERE ")
            .Append(ScopeColumn(selector.Scope)).Append(" = $id");
        AppendMinuteBounds(sql, selector.FromMinute, selector.ToMinute);
        DuckDbSql.Add(command, "id", selector.Id);
        AddFilter(command, sql, selector.Filter, selector.AdvertiserId);
        sql.Append(" GROUP BY ALL ORDER BY ALL");
        command.CommandText = sql.ToString();
        return ReadTotals(command);
    }

    // Rows of (minute, group, SumColumns...), in order.
    private static List<MinuteTotals> ReadTotals(DuckDBCommand command)
    {
        using DuckDBDataReader reader = command.ExecuteReader();
        var totals = new List<MinuteTotals>();
        while (reader.Read())
        {
            var minute = new MinuteTotals(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1))
            {
                Numbers = new WindowNumbers(
                    reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6),
                    reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10), reader.GetInt64(11), 0),
                LeastStatus = (WindowStatus)reader.GetFieldValue<sbyte>(12),
                MostStatus = (WindowStatus)reader.GetFieldValue<sbyte>(13),
                Revision = reader.GetInt64(14),
            };
            // A rolled hour's row (ReadHourAndMinuteTotals) carries its one sketch and its rule versions as they are
            // stored, in columns 17 and 18 (reading them as lists cost more than the rest of the row).
            if (reader.FieldCount > 17 && !reader.IsDBNull(17))
            {
                minute.Users = HyperLogLog.Deserialize(ReadAll(reader.GetStream(17)));
                minute.RuleVersions.UnionWith(reader.GetString(18).Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
            else
            {
                // DuckDB.NET hands the blobs of a LIST as streams over its own memory, valid until the next row.
                List<Stream> sketches = reader.GetFieldValue<List<Stream>>(15);
                if (sketches.Count == 1)
                {
                    minute.Users = HyperLogLog.Deserialize(ReadAll(sketches[0]));
                }
                else
                {
                    foreach (Stream sketch in sketches)
                    {
                        minute.Users.Merge(HyperLogLog.Deserialize(ReadAll(sketch)));
                    }
                }

                if (!reader.IsDBNull(16))
                {
                    minute.RuleVersions.UnionWith(reader.GetFieldValue<List<string>>(16));
                }
            }

            minute.Numbers = minute.Numbers with { UniqueUsers = minute.Users.Estimate() };

            totals.Add(minute);
        }

        return totals;
    }

    public IReadOnlyList<string> AdvertiserIds(string? advertiserId, int limit)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        var sql = new StringBuilder("SELECT DISTINCT advertiser_id FROM window_rows WHERE advertiser_id IS NOT NULL");
        AddEquality(command, sql, "advertiser_id", advertiserId);
        sql.Append(" ORDER BY advertiser_id LIMIT $limit");
        DuckDbSql.Add(command, "limit", limit);
        command.CommandText = sql.ToString();
        using DuckDBDataReader reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    public IReadOnlyList<(int Partition, AdTotal Ad)> TopAdsPerPartition(long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId, int count)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        var sql = new StringBuilder(
            "SELECT \"partition\", ad_id, CAST(SUM(clicks) AS BIGINT) AS c, CAST(SUM(spend_micros) AS BIGINT) FROM window_rows WHERE true");
        AppendMinuteBounds(sql, fromMinute, toMinute);
        AddFilter(command, sql, filter, advertiserId);
        sql.Append(" GROUP BY \"partition\", ad_id HAVING SUM(clicks) > 0");
        command.CommandText = sql.ToString();

        // Each partition's top `count` kept here as the sums stream in: DuckDB's window function (row_number over
        // each partition) sorted every ad of the range first, and took twice as long as the sums themselves.
        var tops = new Dictionary<int, PriorityQueue<AdTotal, AdTotal>>();
        using DuckDBDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            int partition = reader.GetInt32(0);
            var ad = new AdTotal(reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3));
            if (!tops.TryGetValue(partition, out PriorityQueue<AdTotal, AdTotal>? top))
            {
                top = new PriorityQueue<AdTotal, AdTotal>(count + 1, s_worstAdFirst);
                tops.Add(partition, top);
            }

            if (top.Count < count)
            {
                top.Enqueue(ad, ad);
            }
            else if (s_worstAdFirst.Compare(ad, top.Peek()) > 0)
            {
                top.EnqueueDequeue(ad, ad);
            }
        }

        var ads = new List<(int, AdTotal)>();
        foreach ((int partition, PriorityQueue<AdTotal, AdTotal> top) in tops.OrderBy(entry => entry.Key))
        {
            var best = new List<AdTotal>(top.Count);
            while (top.Count > 0)
            {
                best.Add(top.Dequeue());
            }

            for (int i = best.Count - 1; i >= 0; i--)
            {
                ads.Add((partition, best[i]));
            }
        }

        return ads;
    }

    // Fewer clicks first, then the larger ad id: the order in which a partition's top list drops an ad.
    private static readonly Comparer<AdTotal> s_worstAdFirst = Comparer<AdTotal>.Create(static (a, b) =>
        a.Clicks != b.Clicks ? a.Clicks.CompareTo(b.Clicks) : string.CompareOrdinal(b.AdId, a.AdId));

    public IReadOnlyList<StoredChange> ReadChanges(IReadOnlyList<long> nextSequences, int limit, string? advertiserId)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        var sql = new StringBuilder("SELECT ").Append(WindowRowColumns.ChangeList).Append(" FROM window_changes WHERE (");
        for (int partition = 0; partition < nextSequences.Count; partition++)
        {
            sql.Append(partition == 0 ? string.Empty : " OR ")
                .Append("(\"partition\" = ").Append(partition).Append(" AND sequence >= $s").Append(partition).Append(')');
            DuckDbSql.Add(command, "s" + partition, nextSequences[partition]);
        }

        sql.Append(')');
        AddEquality(command, sql, "advertiser_id", advertiserId);
        sql.Append(" ORDER BY sequence, \"partition\" LIMIT $limit");
        DuckDbSql.Add(command, "limit", limit);
        command.CommandText = sql.ToString();
        using DuckDBDataReader reader = command.ExecuteReader();
        var changes = new List<StoredChange>();
        while (reader.Read())
        {
            changes.Add(WindowRowColumns.ReadChange(reader));
        }

        return changes;
    }

    // Minute bounds as literals, not parameters: DuckDB skips row groups by their min/max only for constants, and a
    // statement prepared with parameters filters every row of the table instead.
    private static void AppendMinuteBounds(StringBuilder sql, long fromMinute, long toMinute)
    {
        sql.Append(" AND minute >= ").Append(fromMinute.ToString(CultureInfo.InvariantCulture))
            .Append(" AND minute < ").Append(toMinute.ToString(CultureInfo.InvariantCulture));
    }

    private static byte[] ReadAll(Stream stream)
    {
        using (stream)
        {
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
    }

    private static void AddFilter(DuckDBCommand command, StringBuilder sql, DimensionFilter filter, string? advertiserId)
    {
        if (filter.NeedsRawEvents)
        {
            // Window rows carry no user or IP: answering such a filter here would silently ignore it.
            throw new InvalidOperationException("user_id and ip filters are answered from the raw archive, not the stored rows.");
        }

        AddEquality(command, sql, "campaign_id", filter.CampaignId);
        AddEquality(command, sql, "publisher_id", filter.PublisherId);
        AddEquality(command, sql, "country", filter.Country);
        AddEquality(command, sql, "advertiser_id", advertiserId);
        if (filter.Device is Device device)
        {
            sql.Append(" AND device = $device");
            DuckDbSql.Add(command, "device", (sbyte)device);
        }
    }

    private static string ScopeColumn(WindowScope scope) => scope switch
    {
        WindowScope.Ad => "ad_id",
        WindowScope.Campaign => "campaign_id",
        WindowScope.Advertiser => "advertiser_id",
        _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, null),
    };

    private static string? GroupColumn(Breakdown breakdown) => breakdown switch
    {
        Breakdown.None => null,
        Breakdown.Country => "country",
        Breakdown.Device => "device",
        Breakdown.PublisherId => "publisher_id",
        Breakdown.CampaignId => "campaign_id",
        Breakdown.AdId => "ad_id",
        _ => throw new ArgumentOutOfRangeException(nameof(breakdown), breakdown, null),
    };
}

using System.Text;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>Reads of window rows and checkpoints, each on a pooled read connection.</summary>
public sealed partial class DuckDbStore
{
    private const string SelectRows = "SELECT " + WindowRowColumns.List + " FROM window_rows";

    private const string RowKeyMatch =
        " WHERE \"partition\" = $partition AND minute = $minute AND ad_id = $ad_id AND advertiser_id = $advertiser_id"
        + " AND campaign_id = $campaign_id AND publisher_id = $publisher_id AND country = $country AND device = $device";

    public PartitionCheckpoint ReadCheckpoint(int partition)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(
            lease.Connection,
            "SELECT next_position, max_event_time_ms, COALESCE(next_change_sequence, 0) FROM partition_checkpoints WHERE \"partition\" = $partition");
        DuckDbSql.Add(command, "partition", partition);
        using DuckDBDataReader reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return PartitionCheckpoint.Empty(partition);
        }

        return new PartitionCheckpoint(partition, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    public IReadOnlyList<WindowRow> ReadRows(int partition, long fromMinute)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(
            lease.Connection,
            SelectRows + " WHERE \"partition\" = $partition AND (minute >= $from_minute OR pending) ORDER BY " + WindowRowColumns.KeyOrder);
        DuckDbSql.Add(command, "partition", partition);
        DuckDbSql.Add(command, "from_minute", fromMinute);
        using DuckDBDataReader reader = command.ExecuteReader();
        var rows = new List<WindowRow>();
        while (reader.Read())
        {
            rows.Add(WindowRowColumns.Read(reader).Row);
        }

        return rows;
    }

    public WindowRow? ReadRow(int partition, WindowKey key)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(lease.Connection, SelectRows + RowKeyMatch);
        DuckDbSql.Add(command, "partition", partition);
        DuckDbSql.Add(command, "minute", key.Minute);
        DuckDbSql.Add(command, "ad_id", key.AdId);
        DuckDbSql.Add(command, "advertiser_id", key.AdvertiserId);
        DuckDbSql.Add(command, "campaign_id", key.CampaignId);
        DuckDbSql.Add(command, "publisher_id", key.PublisherId);
        DuckDbSql.Add(command, "country", key.Country);
        DuckDbSql.Add(command, "device", (sbyte)key.Device);
        using DuckDBDataReader reader = command.ExecuteReader();
        return reader.Read() ? WindowRowColumns.Read(reader).Row : null;
    }

    public long SumClicks(string adId, long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId)
    {
        if (toMinute > fromMinute && RollupsAnswer(filter) && SumClicksWithRollups(adId, fromMinute, toMinute, advertiserId) is long rolled)
        {
            return rolled;
        }

        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        var sql = new StringBuilder(
            "SELECT CAST(COALESCE(SUM(clicks), 0) AS BIGINT) FROM window_rows WHERE ad_id = $ad_id");
        AppendMinuteBounds(sql, fromMinute, toMinute);
        DuckDbSql.Add(command, "ad_id", adId);
        AddFilter(command, sql, filter, advertiserId);
        command.CommandText = sql.ToString();
        return (long)command.ExecuteScalar()!;
    }

    public string? FindAdvertiserOfAd(string adId)
    {
        // First the rollups (stale ones too: rows are never deleted, so an ad once rolled still has rows): one row
        // group read by id_key, as long for an ad that exists as for one that does not. The ad_id index alone
        // fetches every row id of the ad before its LIMIT, ten times longer for a busy ad than for an unknown one,
        // and that difference would tell another advertiser's ad from an unknown one (issue 4). An ad with no
        // rolled hour yet has few rows, found through the index.
        using ReaderLease lease = Read();
        using (DuckDBCommand rolled = DuckDbSql.Command(
            lease.Connection,
            $"SELECT advertiser_id FROM hour_rollups WHERE id_key = {IdKey(WindowScope.Ad, adId)} AND scope = {(int)WindowScope.Ad} AND id = $ad_id LIMIT 1"))
        {
            DuckDbSql.Add(rolled, "ad_id", adId);
            if (rolled.ExecuteScalar() is string owner)
            {
                return owner;
            }
        }

        using DuckDBCommand command = DuckDbSql.Command(lease.Connection, "SELECT advertiser_id FROM window_rows WHERE ad_id = $ad_id LIMIT 1");
        DuckDbSql.Add(command, "ad_id", adId);
        return command.ExecuteScalar() as string;
    }

    public IReadOnlyList<(int Partition, WindowRow Row)> ReadAllRows() => ReadRowsBetween(long.MinValue, long.MaxValue);

    public IReadOnlyList<(int Partition, WindowRow Row)> ReadRowsBetween(long fromMinute, long toMinute)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(
            lease.Connection,
            SelectRows + " WHERE minute >= $from_minute AND minute < $to_minute ORDER BY \"partition\", " + WindowRowColumns.KeyOrder);
        DuckDbSql.Add(command, "from_minute", fromMinute);
        DuckDbSql.Add(command, "to_minute", toMinute);
        using DuckDBDataReader reader = command.ExecuteReader();
        var rows = new List<(int Partition, WindowRow Row)>();
        while (reader.Read())
        {
            rows.Add(WindowRowColumns.Read(reader));
        }

        return rows;
    }

    private static void AddEquality(DuckDBCommand command, StringBuilder sql, string column, string? value)
    {
        if (value is null)
        {
            return;
        }

        sql.Append(" AND ").Append(column).Append(" = $").Append(column);
        DuckDbSql.Add(command, column, value);
    }
}

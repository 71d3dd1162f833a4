using DuckDB.NET.Data;
using Tollbooth.Core;

namespace Tollbooth.Store;

/// <summary>Advertiser settings (<c>advertisers</c>) and saved filters (<c>saved_filters</c>).</summary>
public sealed partial class DuckDbStore : ISettingsStore
{
    private const string FilterColumns = "filter_id, advertiser_id, campaign_id, publisher_id, country, device, user_id, ip";

    public AdvertiserSettings? FindAdvertiser(string advertiserId)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(
            lease.Connection,
            "SELECT advertiser_id, time_zone, currency, require_signed_clicks FROM advertisers WHERE advertiser_id = $advertiser_id");
        DuckDbSql.Add(command, "advertiser_id", advertiserId);
        using DuckDBDataReader reader = command.ExecuteReader();
        return reader.Read() ? new AdvertiserSettings(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3)) : null;
    }

    public void PutAdvertiser(AdvertiserSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        WriteInTransaction(settings, static (store, s) =>
        {
            using DuckDBCommand command = DuckDbSql.Command(
                store._writer,
                "INSERT OR REPLACE INTO advertisers VALUES ($advertiser_id, $time_zone, $currency, $require_signed_clicks)");
            DuckDbSql.Add(command, "advertiser_id", s.AdvertiserId);
            DuckDbSql.Add(command, "time_zone", s.TimeZone);
            DuckDbSql.Add(command, "currency", s.Currency);
            DuckDbSql.Add(command, "require_signed_clicks", s.RequireSignedClicks);
            command.ExecuteNonQuery();
        });
    }

    public void AddFilter(SavedFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        WriteInTransaction(filter, static (store, f) =>
        {
            using DuckDBCommand command = DuckDbSql.Command(
                store._writer,
                "INSERT INTO saved_filters (" + FilterColumns + ", created_at_ms) VALUES "
                + "($filter_id, $advertiser_id, $campaign_id, $publisher_id, $country, $device, $user_id, $ip, $created_at_ms)");
            DuckDbSql.Add(command, "filter_id", f.FilterId);
            DuckDbSql.Add(command, "advertiser_id", f.OwnerAdvertiserId);
            DuckDbSql.Add(command, "campaign_id", f.CampaignId);
            DuckDbSql.Add(command, "publisher_id", f.PublisherId);
            DuckDbSql.Add(command, "country", f.Country);
            DuckDbSql.Add(command, "device", f.Device is Device device ? (sbyte?)device : null);
            DuckDbSql.Add(command, "user_id", f.UserId);
            DuckDbSql.Add(command, "ip", f.Ip);
            DuckDbSql.Add(command, "created_at_ms", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            command.ExecuteNonQuery();
        });
    }

    public SavedFilter? FindFilter(string filterId)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(lease.Connection, "SELECT " + FilterColumns + " FROM saved_filters WHERE filter_id = $filter_id");
        DuckDbSql.Add(command, "filter_id", filterId);
        using DuckDBDataReader reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new SavedFilter(
            reader.GetString(0),
            NullableString(reader, 1),
            NullableString(reader, 2),
            NullableString(reader, 3),
            NullableString(reader, 4),
            reader.IsDBNull(5) ? null : (Device)reader.GetFieldValue<sbyte>(5),
            NullableString(reader, 6),
            NullableString(reader, 7));
    }

    private static string? NullableString(DuckDBDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}

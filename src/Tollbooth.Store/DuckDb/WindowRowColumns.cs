using System.Data.Common;
using System.Diagnostics;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// The columns of <c>window_rows</c> in one fixed order, and the two conversions of a
/// <see cref="WindowRow"/> through them: into an appender row and out of a data reader.
/// </summary>
internal static class WindowRowColumns
{
    public const string KeyOrder = "minute, ad_id, advertiser_id, campaign_id, publisher_id, country, device";

    public const string List =
        "\"partition\", " + KeyOrder + ", received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, "
        + "invalid_rate, invalid_unsigned, too_late, late_clicks, unique_users, users_sketch, status, revision, pending, rule_version";

    /// <summary>The columns of <c>window_changes</c>, in order.</summary>
    public const string ChangeList =
        "\"partition\", sequence, " + KeyOrder + ", status, revision, received, clicks, spend_micros, duplicate_clicks, "
        + "invalid_bad_token, invalid_bot, invalid_rate, invalid_unsigned, too_late, late_clicks, unique_users, rule_version";

    public static void Append(DuckDBAppender appender, int partition, WindowRow row)
    {
        WindowKey key = row.Key;
        byte[] sketch = row.Users.Serialize();
        AppendKey(appender.CreateRow().AppendValue(partition), key)
            .AppendValue(row.Received)
            .AppendValue(row.Clicks)
            .AppendValue(row.SpendMicros)
            .AppendValue(row.DuplicateClicks)
            .AppendValue(row.InvalidBadToken)
            .AppendValue(row.InvalidBot)
            .AppendValue(row.InvalidRate)
            .AppendValue(row.InvalidUnsigned)
            .AppendValue(row.TooLate)
            .AppendValue(row.LateClicks)
            .AppendValue(row.Users.Estimate())
            .AppendValue(sketch)
            .AppendValue((sbyte)row.Status)
            .AppendValue(row.Revision)
            .AppendValue(row.Pending)
            .AppendValue(row.RuleVersion)
            .EndRow();
    }

    public static void AppendChange(DuckDBAppender appender, WindowChange change)
    {
        WindowRow row = change.Row;
        WindowKey key = row.Key;
        AppendKey(appender.CreateRow().AppendValue(change.Partition).AppendValue(change.Sequence), key)
            .AppendValue((sbyte)row.Status)
            .AppendValue(row.Revision)
            .AppendValue(row.Received)
            .AppendValue(row.Clicks)
            .AppendValue(row.SpendMicros)
            .AppendValue(row.DuplicateClicks)
            .AppendValue(row.InvalidBadToken)
            .AppendValue(row.InvalidBot)
            .AppendValue(row.InvalidRate)
            .AppendValue(row.InvalidUnsigned)
            .AppendValue(row.TooLate)
            .AppendValue(row.LateClicks)
            .AppendValue(row.Users.Estimate())
            .AppendValue(row.RuleVersion)
            .EndRow();
    }

    private static IDuckDBAppenderRow AppendKey(IDuckDBAppenderRow row, WindowKey key) => row
        .AppendValue(key.Minute)
        .AppendValue(key.AdId)
        .AppendValue(key.AdvertiserId)
        .AppendValue(key.CampaignId)
        .AppendValue(key.PublisherId)
        .AppendValue(key.Country)
        .AppendValue((sbyte)key.Device);

    /// <summary>Reads a change at the reader's position; its columns are <see cref="ChangeList"/>, in order.</summary>
    public static StoredChange ReadChange(DbDataReader reader)
    {
        var key = new WindowKey(
            reader.GetInt64(2),
            reader.GetString(3),
            reader.GetString(4),
            reader.GetString(5),
            reader.GetString(6),
            reader.GetString(7),
            (Device)reader.GetFieldValue<sbyte>(8));
        return new StoredChange(
            reader.GetInt32(0),
            reader.GetInt64(1),
            key,
            (WindowStatus)reader.GetFieldValue<sbyte>(9),
            reader.GetInt64(10),
            new WindowNumbers(
                reader.GetInt64(11),
                reader.GetInt64(12),
                reader.GetInt64(13),
                reader.GetInt64(14),
                reader.GetInt64(15),
                reader.GetInt64(16),
                reader.GetInt64(17),
                reader.GetInt64(18),
                reader.GetInt64(19),
                reader.GetInt64(20),
                reader.GetInt64(21)),
            reader.IsDBNull(22) ? "" : reader.GetString(22));
    }

    /// <summary>Reads the row at the reader's position; its columns are <see cref="List"/>, in order.</summary>
    public static (int Partition, WindowRow Row) Read(DbDataReader reader)
    {
        var key = new WindowKey(
            reader.GetInt64(1),
            reader.GetString(2),
            reader.GetString(3),
            reader.GetString(4),
            reader.GetString(5),
            reader.GetString(6),
            (Device)reader.GetFieldValue<sbyte>(7));
        var row = new WindowRow(key)
        {
            Received = reader.GetInt64(8),
            Clicks = reader.GetInt64(9),
            SpendMicros = reader.GetInt64(10),
            DuplicateClicks = reader.GetInt64(11),
            InvalidBadToken = reader.GetInt64(12),
            InvalidBot = reader.GetInt64(13),
            InvalidRate = reader.GetInt64(14),
            InvalidUnsigned = reader.GetInt64(15),
            TooLate = reader.GetInt64(16),
            LateClicks = reader.GetInt64(17),
            Users = HyperLogLog.Deserialize(ReadBlob(reader, 19)),
            Status = reader.IsDBNull(20) ? WindowStatus.Open : (WindowStatus)reader.GetFieldValue<sbyte>(20),
            Revision = reader.IsDBNull(21) ? 0 : reader.GetInt64(21),
            Pending = !reader.IsDBNull(22) && reader.GetBoolean(22),
            RuleVersion = reader.IsDBNull(23) ? "" : reader.GetString(23),
        };

        // Pair assertion: the stored estimate was computed from the very sketch bytes read back.
        Debug.Assert(row.Users.Estimate() == reader.GetInt64(18));
        return (reader.GetInt32(0), row);
    }

    private static byte[] ReadBlob(DbDataReader reader, int ordinal)
    {
        using Stream stream = reader.GetStream(ordinal);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}

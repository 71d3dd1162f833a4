using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;
using Tollbooth.Core;

namespace Tollbooth.Naive;

/// <summary>
/// The seed's naive write path in PostgreSQL: per click, one transaction that inserts the raw row and
/// increments its campaign-hour and ad-minute counters; it returns once that transaction has committed
/// (default <c>synchronous_commit</c>, so the WAL is flushed). No dedup: a resent click counts again.
/// </summary>
public sealed class NaiveClickStore : IAsyncDisposable
{
    private const long MinuteMs = 60_000;
    private const long HourMs = 3_600_000;
    private readonly NpgsqlDataSource _dataSource;

    private NaiveClickStore(NpgsqlDataSource dataSource, byte[] ipKey)
    {
        _dataSource = dataSource;
        IpKey = ipKey;
        Keys = new PostgresKeyStore(dataSource);
    }

    /// <summary>The secret for pseudonymising IP addresses, kept in the database so it survives restarts.</summary>
    public byte[] IpKey { get; }

    public IKeyStore Keys { get; }

    /// <summary>Connects to <paramref name="url"/> (postgres://...), creates the tables when missing and loads the IP secret.</summary>
    public static async Task<NaiveClickStore> OpenAsync(string url)
    {
        NpgsqlDataSource dataSource = NpgsqlDataSource.Create(PostgresUrl.ToConnectionString(url));
        try
        {
            await using NpgsqlConnection connection = await dataSource.OpenConnectionAsync();
            await using (var create = new NpgsqlCommand(NaiveSchema.Create, connection))
            {
                await create.ExecuteNonQueryAsync();
            }

            await using (var insertKey = new NpgsqlCommand("INSERT INTO naive_settings (name, value) VALUES ('ip_key', $1) ON CONFLICT (name) DO NOTHING", connection))
            {
                insertKey.Parameters.Add(new NpgsqlParameter { Value = RandomNumberGenerator.GetBytes(32) });
                await insertKey.ExecuteNonQueryAsync();
            }

            await using var readKey = new NpgsqlCommand("SELECT value FROM naive_settings WHERE name = 'ip_key'", connection);
            byte[] ipKey = (byte[])(await readKey.ExecuteScalarAsync())!;
            return new NaiveClickStore(dataSource, ipKey);
        }
        catch
        {
            await dataSource.DisposeAsync();
            throw;
        }
    }

    /// <summary>A connection from the pool, for one request.</summary>
    public ValueTask<NpgsqlConnection> OpenConnectionAsync() => _dataSource.OpenConnectionAsync();

    /// <summary>Inserts the click and increments its counters in one transaction; returns after the commit.</summary>
    public static async Task RecordAsync(NpgsqlConnection connection, Click click)
    {
        DateTime createdAt = DateTimeOffset.FromUnixTimeMilliseconds(click.TimestampMs).UtcDateTime;
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync();
        await using var batch = new NpgsqlBatch(connection, transaction);
        var insert = new NpgsqlBatchCommand(NaiveSchema.InsertClick);
        insert.Parameters.Add(Text(click.ClickId));
        insert.Parameters.Add(Text(click.AdId));
        insert.Parameters.Add(Text(click.AdvertiserId));
        insert.Parameters.Add(Text(click.CampaignId));
        insert.Parameters.Add(Text(click.PublisherId));
        insert.Parameters.Add(Text(click.UserId));
        insert.Parameters.Add(Text(click.IpHash));
        insert.Parameters.Add(Text(click.Country));
        insert.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)click.Device });
        insert.Parameters.Add(Text(click.UserAgent));
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = click.CostMicros });
        insert.Parameters.Add(Time(createdAt));
        insert.Parameters.Add(Time(DateTimeOffset.FromUnixTimeMilliseconds(click.ReceivedMs).UtcDateTime));
        batch.BatchCommands.Add(insert);

        var campaignHour = new NpgsqlBatchCommand(NaiveSchema.IncrementCampaignHour);
        campaignHour.Parameters.Add(Text(click.CampaignId));
        campaignHour.Parameters.Add(Time(Floor(click.TimestampMs, HourMs)));
        campaignHour.Parameters.Add(new NpgsqlParameter<long> { TypedValue = click.CostMicros });
        batch.BatchCommands.Add(campaignHour);

        var adMinute = new NpgsqlBatchCommand(NaiveSchema.IncrementAdMinute);
        adMinute.Parameters.Add(Text(click.AdId));
        adMinute.Parameters.Add(Time(Floor(click.TimestampMs, MinuteMs)));
        adMinute.Parameters.Add(Text(click.AdvertiserId));
        batch.BatchCommands.Add(adMinute);

        await batch.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    /// <summary>The advertiser of an ad that has any click, or null when no click for it was ever stored.</summary>
    public async Task<string?> OwnerOfAsync(string adId)
    {
        await using NpgsqlCommand command = _dataSource.CreateCommand(NaiveSchema.OwnerOfAd);
        command.Parameters.Add(Text(adId));
        return await command.ExecuteScalarAsync() as string;
    }

    /// <summary>Clicks of the ad in the minutes [fromMs, toMs), both already whole minutes.</summary>
    public async Task<long> CountAsync(string adId, long fromMs, long toMs)
    {
        await using NpgsqlCommand command = _dataSource.CreateCommand(NaiveSchema.CountAdMinutes);
        command.Parameters.Add(Text(adId));
        command.Parameters.Add(Time(DateTimeOffset.FromUnixTimeMilliseconds(fromMs).UtcDateTime));
        command.Parameters.Add(Time(DateTimeOffset.FromUnixTimeMilliseconds(toMs).UtcDateTime));
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static DateTime Floor(long epochMs, long unitMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(epochMs - (((epochMs % unitMs) + unitMs) % unitMs)).UtcDateTime;

    private static NpgsqlParameter<string> Text(string value) => new() { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = value };

    private static NpgsqlParameter<DateTime> Time(DateTime value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = value };
}

using Npgsql;
using NpgsqlTypes;
using Tollbooth.Core;

namespace Tollbooth.Naive;

/// <summary>API keys of the naive engine, in its PostgreSQL database (the key ring caches look-ups).</summary>
public sealed class PostgresKeyStore(NpgsqlDataSource dataSource) : IKeyStore
{
    private const string Columns = "key_id, role, publisher_id, advertiser_id, secret_hash, created_at";

    public void AddKey(ApiKey key)
    {
        using NpgsqlCommand command = dataSource.CreateCommand($"INSERT INTO api_keys ({Columns}) VALUES ($1, $2, $3, $4, $5, $6)");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.KeyId });
        command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)key.Role });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)key.PublisherId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)key.AdvertiserId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.SecretHash });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = key.CreatedAt.UtcDateTime });
        command.ExecuteNonQuery();
    }

    public ApiKey? FindBySecretHash(string secretHash)
    {
        using NpgsqlCommand command = dataSource.CreateCommand($"SELECT {Columns} FROM api_keys WHERE secret_hash = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = secretHash });
        using NpgsqlDataReader reader = command.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    }

    public IReadOnlyList<ApiKey> ListKeys()
    {
        using NpgsqlCommand command = dataSource.CreateCommand($"SELECT {Columns} FROM api_keys ORDER BY created_at, key_id");
        using NpgsqlDataReader reader = command.ExecuteReader();
        var keys = new List<ApiKey>();
        while (reader.Read())
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    public bool DeleteKey(string keyId)
    {
        using NpgsqlCommand command = dataSource.CreateCommand("DELETE FROM api_keys WHERE key_id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = keyId });
        return command.ExecuteNonQuery() > 0;
    }

    private static ApiKey Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        (ApiKeyRole)reader.GetInt16(1),
        reader.IsDBNull(2) ? null : reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetString(4),
        new DateTimeOffset(reader.GetDateTime(5), TimeSpan.Zero));
}

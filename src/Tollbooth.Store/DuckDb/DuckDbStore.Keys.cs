using DuckDB.NET.Data;
using Tollbooth.Core;

namespace Tollbooth.Store;

/// <summary>
/// API keys (<see cref="IKeyStore"/>) in <c>api_keys</c>: the role as text, the creation time as
/// milliseconds since the Unix epoch (UTC), so <see cref="ApiKey.CreatedAt"/> keeps millisecond precision.
/// </summary>
public sealed partial class DuckDbStore
{
    private const string KeyColumns = "key_id, role, publisher_id, advertiser_id, secret_hash, created_at_ms";

    public void AddKey(ApiKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using DuckDBCommand command = DuckDbSql.Command(
                _writer,
                "INSERT INTO api_keys (" + KeyColumns + ") VALUES ($key_id, $role, $publisher_id, $advertiser_id, $secret_hash, $created_at_ms)");
            DuckDbSql.Add(command, "key_id", key.KeyId);
            DuckDbSql.Add(command, "role", RoleToText(key.Role));
            DuckDbSql.Add(command, "publisher_id", key.PublisherId);
            DuckDbSql.Add(command, "advertiser_id", key.AdvertiserId);
            DuckDbSql.Add(command, "secret_hash", key.SecretHash);
            DuckDbSql.Add(command, "created_at_ms", key.CreatedAt.ToUnixTimeMilliseconds());
            command.ExecuteNonQuery();
        }
    }

    public ApiKey? FindBySecretHash(string secretHash)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(lease.Connection, "SELECT " + KeyColumns + " FROM api_keys WHERE secret_hash = $secret_hash");
        DuckDbSql.Add(command, "secret_hash", secretHash);
        using DuckDBDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadKey(reader) : null;
    }

    public IReadOnlyList<ApiKey> ListKeys()
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(lease.Connection, "SELECT " + KeyColumns + " FROM api_keys ORDER BY created_at_ms, key_id");
        using DuckDBDataReader reader = command.ExecuteReader();
        var keys = new List<ApiKey>();
        while (reader.Read())
        {
            keys.Add(ReadKey(reader));
        }

        return keys;
    }

    public bool DeleteKey(string keyId)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using DuckDBCommand command = DuckDbSql.Command(_writer, "DELETE FROM api_keys WHERE key_id = $key_id");
            DuckDbSql.Add(command, "key_id", keyId);
            return command.ExecuteNonQuery() > 0;
        }
    }

    private static ApiKey ReadKey(DuckDBDataReader reader) => new(
        reader.GetString(0),
        RoleFromText(reader.GetString(1)),
        reader.IsDBNull(2) ? null : reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetString(4),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)));

    private static string RoleToText(ApiKeyRole role) => role switch
    {
        ApiKeyRole.Admin => "admin",
        ApiKeyRole.Publisher => "publisher",
        ApiKeyRole.Advertiser => "advertiser",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "An API key needs the admin, publisher or advertiser role."),
    };

    private static ApiKeyRole RoleFromText(string role) => role switch
    {
        "admin" => ApiKeyRole.Admin,
        "publisher" => ApiKeyRole.Publisher,
        "advertiser" => ApiKeyRole.Advertiser,
        _ => throw new InvalidDataException($"The api_keys table holds the unknown role '{role}'; the store may be damaged."),
    };
}

using DuckDB.NET.Data;
using Tollbooth.Core;

namespace Tollbooth.Store;

/// <summary>Click token keys (<see cref="ITokenKeyStore"/>) in <c>token_keys</c>.</summary>
public sealed partial class DuckDbStore : ITokenKeyStore
{
    public IReadOnlyList<TokenKey> ListTokenKeys()
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = DuckDbSql.Command(
            lease.Connection, "SELECT key_id, secret, created_at_ms, retired FROM token_keys ORDER BY created_at_ms, key_id");
        using DuckDBDataReader reader = command.ExecuteReader();
        var keys = new List<TokenKey>();
        while (reader.Read())
        {
            using Stream secret = reader.GetStream(1);
            keys.Add(new TokenKey(reader.GetString(0), ReadAll(secret), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)), reader.GetBoolean(3)));
        }

        return keys;
    }

    public void AddTokenKey(TokenKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using DuckDBCommand command = DuckDbSql.Command(
                _writer, "INSERT INTO token_keys VALUES ($key_id, $secret, $created_at_ms, $retired)");
            DuckDbSql.Add(command, "key_id", key.KeyId);
            DuckDbSql.Add(command, "secret", key.Secret);
            DuckDbSql.Add(command, "created_at_ms", key.CreatedAt.ToUnixTimeMilliseconds());
            DuckDbSql.Add(command, "retired", key.Retired);
            command.ExecuteNonQuery();
        }
    }

    public bool RetireTokenKey(string keyId)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using DuckDBCommand command = DuckDbSql.Command(_writer, "UPDATE token_keys SET retired = true WHERE key_id = $key_id");
            DuckDbSql.Add(command, "key_id", keyId);
            return command.ExecuteNonQuery() > 0;
        }
    }
}

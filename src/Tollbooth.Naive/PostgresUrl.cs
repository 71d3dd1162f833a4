using Npgsql;

namespace Tollbooth.Naive;

/// <summary>
/// Reads <c>postgres://user[:password]@host[:port]/database[?pool=N]</c> (or <c>postgresql://</c>) into an
/// Npgsql connection string, with every pool setting stated here rather than left to the library's defaults.
/// </summary>
public static class PostgresUrl
{
    public const int PoolSizeDefault = 64;

    public static string ToConnectionString(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("postgres" or "postgresql"))
        {
            throw new ArgumentException($"--store '{url}' is not a PostgreSQL URL: use postgres://user@127.0.0.1:5432/database.");
        }

        string database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || uri.Host.Length == 0)
        {
            throw new ArgumentException($"--store '{url}' names no host or database: use postgres://user@127.0.0.1:5432/database.");
        }

        string[] userInfo = uri.UserInfo.Split(':', 2);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = database,
            Username = userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : Environment.UserName,
            Pooling = true,
            MinPoolSize = 0,
            MaxPoolSize = PoolSize(uri.Query, url),
            Timeout = 5,
            CommandTimeout = 30,
            // The naive design at its best: statements prepared once per connection, no batching across requests.
            MaxAutoPrepare = 8,
            AutoPrepareMinUsages = 2,
        };
        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }

        return builder.ConnectionString;
    }

    private static int PoolSize(string query, string url)
    {
        foreach (string pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = pair.Split('=', 2);
            if (parts[0] == "pool")
            {
                if (parts.Length == 2 && int.TryParse(parts[1], out int size) && size is >= 1 and <= 1000)
                {
                    return size;
                }

                throw new ArgumentException($"--store '{url}' has a bad pool size: use ?pool=N with N between 1 and 1000.");
            }
        }

        return PoolSizeDefault;
    }
}

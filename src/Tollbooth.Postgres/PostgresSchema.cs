using Npgsql;

namespace Tollbooth.Postgres;

/// <summary>
/// The PostgreSQL schema of the partition state, as ordered migrations recorded in <c>tollbooth_schema</c> (the same
/// discipline as the DuckDB store's: a shipped migration is never edited). The tables mirror the DuckDB store's, so
/// the same log gives the same rows in either (issue 17). Members starting at once serialise on an advisory lock.
/// </summary>
internal static class PostgresSchema
{
    private const long MigrationLock = 0x7011_B007;

    private static readonly (int Version, string Description, string Sql)[] s_migrations =
    [
        (1, "window rows, partition checkpoints and owners, window changes", """
            CREATE TABLE window_rows (
                "partition" INTEGER NOT NULL,
                minute BIGINT NOT NULL,
                ad_id TEXT NOT NULL,
                advertiser_id TEXT NOT NULL,
                campaign_id TEXT NOT NULL,
                publisher_id TEXT NOT NULL,
                country TEXT NOT NULL,
                device SMALLINT NOT NULL,
                received BIGINT NOT NULL,
                clicks BIGINT NOT NULL,
                spend_micros BIGINT NOT NULL,
                duplicate_clicks BIGINT NOT NULL,
                invalid_bad_token BIGINT NOT NULL,
                invalid_bot BIGINT NOT NULL,
                invalid_rate BIGINT NOT NULL,
                invalid_unsigned BIGINT NOT NULL,
                too_late BIGINT NOT NULL,
                late_clicks BIGINT NOT NULL,
                unique_users BIGINT NOT NULL,
                users_sketch BYTEA NOT NULL,
                status SMALLINT NOT NULL,
                revision BIGINT NOT NULL,
                pending BOOLEAN NOT NULL,
                rule_version TEXT NOT NULL,
                PRIMARY KEY (minute, ad_id, advertiser_id, campaign_id, publisher_id, country, device)
            );
            CREATE INDEX window_rows_partition_minute ON window_rows ("partition", minute);
            CREATE INDEX window_rows_pending ON window_rows ("partition") WHERE pending;
            CREATE TABLE partition_checkpoints (
                "partition" INTEGER PRIMARY KEY,
                next_position BIGINT NOT NULL,
                max_event_time_ms BIGINT NOT NULL,
                next_change_sequence BIGINT NOT NULL
            );
            CREATE TABLE partition_owners (
                "partition" INTEGER PRIMARY KEY,
                epoch BIGINT NOT NULL
            );
            CREATE TABLE window_changes (
                "partition" INTEGER NOT NULL,
                sequence BIGINT NOT NULL,
                minute BIGINT NOT NULL,
                ad_id TEXT NOT NULL,
                advertiser_id TEXT NOT NULL,
                campaign_id TEXT NOT NULL,
                publisher_id TEXT NOT NULL,
                country TEXT NOT NULL,
                device SMALLINT NOT NULL,
                status SMALLINT NOT NULL,
                revision BIGINT NOT NULL,
                received BIGINT NOT NULL,
                clicks BIGINT NOT NULL,
                spend_micros BIGINT NOT NULL,
                duplicate_clicks BIGINT NOT NULL,
                invalid_bad_token BIGINT NOT NULL,
                invalid_bot BIGINT NOT NULL,
                invalid_rate BIGINT NOT NULL,
                invalid_unsigned BIGINT NOT NULL,
                too_late BIGINT NOT NULL,
                late_clicks BIGINT NOT NULL,
                unique_users BIGINT NOT NULL,
                rule_version TEXT NOT NULL,
                PRIMARY KEY ("partition", sequence)
            );
            """),
    ];

    public static void Apply(NpgsqlDataSource source)
    {
        using NpgsqlConnection connection = source.OpenConnection();
        using NpgsqlTransaction transaction = connection.BeginTransaction();
        Execute(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})");
        Execute(connection, "CREATE TABLE IF NOT EXISTS tollbooth_schema (version INTEGER PRIMARY KEY, description TEXT NOT NULL)");
        using var current = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM tollbooth_schema", connection);
        int version = (int)current.ExecuteScalar()!;
        int latest = s_migrations[^1].Version;
        if (version > latest)
        {
            throw new InvalidOperationException($"The PostgreSQL store has schema version {version}, but this build knows versions up to {latest}; run a newer tollbooth.");
        }

        foreach ((int number, string description, string sql) in s_migrations)
        {
            if (number > version)
            {
                Execute(connection, sql);
                using var record = new NpgsqlCommand("INSERT INTO tollbooth_schema (version, description) VALUES ($1, $2)", connection);
                record.Parameters.Add(new NpgsqlParameter { Value = number });
                record.Parameters.Add(new NpgsqlParameter { Value = description });
                record.ExecuteNonQuery();
            }
        }

        transaction.Commit();
    }

    internal static void Execute(NpgsqlConnection connection, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}

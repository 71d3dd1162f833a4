using System.Diagnostics;
using DuckDB.NET.Data;

namespace Tollbooth.Store;

/// <summary>
/// The DuckDB schema as an ordered list of migrations. A new issue appends a migration with the next
/// version; a migration that has shipped is never edited, because stores in the field already ran it.
/// </summary>
internal static class DuckDbMigrations
{
    public static readonly IReadOnlyList<Migration> All =
    [
        new Migration(1, "window rows, partition checkpoints, api keys", """
            CREATE TABLE window_rows (
                "partition" INTEGER NOT NULL,
                minute BIGINT NOT NULL,
                ad_id VARCHAR NOT NULL,
                advertiser_id VARCHAR NOT NULL,
                campaign_id VARCHAR NOT NULL,
                publisher_id VARCHAR NOT NULL,
                country VARCHAR NOT NULL,
                device TINYINT NOT NULL,
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
                users_sketch BLOB NOT NULL,
                PRIMARY KEY (minute, ad_id, advertiser_id, campaign_id, publisher_id, country, device)
            );
            CREATE INDEX window_rows_ad_id ON window_rows (ad_id);
            CREATE TABLE partition_checkpoints (
                "partition" INTEGER PRIMARY KEY,
                next_position BIGINT NOT NULL,
                max_event_time_ms BIGINT NOT NULL
            );
            CREATE TABLE api_keys (
                key_id VARCHAR PRIMARY KEY,
                role VARCHAR NOT NULL CHECK (role IN ('admin', 'publisher', 'advertiser')),
                publisher_id VARCHAR,
                advertiser_id VARCHAR,
                secret_hash VARCHAR NOT NULL UNIQUE,
                created_at_ms BIGINT NOT NULL
            );
            """),
        new Migration(2, "window status and revision, the changes feed, advertisers, saved filters", """
            DROP INDEX window_rows_ad_id;
            ALTER TABLE window_rows ADD COLUMN status TINYINT DEFAULT 0;
            ALTER TABLE window_rows ADD COLUMN revision BIGINT DEFAULT 0;
            ALTER TABLE window_rows ADD COLUMN pending BOOLEAN DEFAULT false;
            CREATE INDEX window_rows_ad_id ON window_rows (ad_id);
            ALTER TABLE partition_checkpoints ADD COLUMN next_change_sequence BIGINT DEFAULT 0;
            CREATE TABLE window_changes (
                "partition" INTEGER NOT NULL,
                sequence BIGINT NOT NULL,
                minute BIGINT NOT NULL,
                ad_id VARCHAR NOT NULL,
                advertiser_id VARCHAR NOT NULL,
                campaign_id VARCHAR NOT NULL,
                publisher_id VARCHAR NOT NULL,
                country VARCHAR NOT NULL,
                device TINYINT NOT NULL,
                status TINYINT NOT NULL,
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
                PRIMARY KEY ("partition", sequence)
            );
            CREATE TABLE advertisers (
                advertiser_id VARCHAR PRIMARY KEY,
                time_zone VARCHAR NOT NULL,
                currency VARCHAR NOT NULL,
                require_signed_clicks BOOLEAN NOT NULL
            );
            CREATE TABLE saved_filters (
                filter_id VARCHAR PRIMARY KEY,
                advertiser_id VARCHAR,
                campaign_id VARCHAR,
                publisher_id VARCHAR,
                country VARCHAR,
                device TINYINT,
                user_id VARCHAR,
                ip VARCHAR,
                created_at_ms BIGINT NOT NULL
            );
            """),
        new Migration(3, "keys that sign click tokens", """
            CREATE TABLE token_keys (
                key_id VARCHAR PRIMARY KEY,
                secret BLOB NOT NULL,
                created_at_ms BIGINT NOT NULL,
                retired BOOLEAN NOT NULL
            );
            """),
        // The index stays: DuckDB adds a column under it, and dropping and recreating it around this ALTER in
        // one transaction aborted the process (DuckDB 1.5, a version 3 store holding rows; see RuleVersionStoreTests).
        new Migration(4, "the rule set version of each window row and window change; the rule sets that were in force", """
            ALTER TABLE window_rows ADD COLUMN rule_version VARCHAR DEFAULT '';
            ALTER TABLE window_changes ADD COLUMN rule_version VARCHAR DEFAULT '';
            CREATE TABLE rule_sets (
                rule_version VARCHAR PRIMARY KEY,
                rules VARCHAR NOT NULL,
                first_in_force_ms BIGINT NOT NULL
            );
            """),
        // Pre-rolled hours (DuckDbStore.Rollups.cs). No index: rows are appended sorted by id_key and hour, and
        // rewritten sorted when too many were appended since, so DuckDB's min/max per row group finds a key.
        // An hour's rows count only while the hour is in rolled_hours; a commit touching it removes it there.
        // rule_versions: the distinct rule set versions of the hour's minute rows, sorted, separated by spaces.
        new Migration(5, "pre-rolled hours of ads, campaigns and advertisers", """
            CREATE TABLE hour_rollups (
                id_key BIGINT NOT NULL,
                scope TINYINT NOT NULL,
                id VARCHAR NOT NULL,
                advertiser_id VARCHAR NOT NULL,
                hour BIGINT NOT NULL,
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
                least_status TINYINT NOT NULL,
                most_status TINYINT NOT NULL,
                revision BIGINT NOT NULL,
                users_sketch BLOB NOT NULL,
                rule_versions VARCHAR NOT NULL
            );
            CREATE TABLE rolled_hours (
                hour BIGINT PRIMARY KEY
            );
            """),
        // An ad's rolled hour keeps its clicks per minute too, so a count whose range starts or ends inside a rolled
        // hour reads that hour's minutes from the same rollup row instead of window_rows (a scan of a row group or two
        // for each edge). minute_clicks: (clicks << 6) | minute of the hour, one entry per minute with clicks; null
        // for campaigns and advertisers. Rollups of version 5 have none: they are dropped here, every hour counts from
        // its minute rows again, and the roller rolls them anew.
        new Migration(6, "clicks per minute in the rolled hours of ads", """
            DROP TABLE hour_rollups;
            CREATE TABLE hour_rollups (
                id_key BIGINT NOT NULL,
                scope TINYINT NOT NULL,
                id VARCHAR NOT NULL,
                advertiser_id VARCHAR NOT NULL,
                hour BIGINT NOT NULL,
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
                least_status TINYINT NOT NULL,
                most_status TINYINT NOT NULL,
                revision BIGINT NOT NULL,
                users_sketch BLOB NOT NULL,
                rule_versions VARCHAR NOT NULL,
                minute_clicks BIGINT[]
            );
            DELETE FROM rolled_hours;
            """),
        // Issue 17: a partition's owner epoch (DuckDbStore.Owners.cs). Not in partition_checkpoints: a clear deletes
        // those, and epochs must only ever go up.
        new Migration(7, "partition owner epochs that fence commits of superseded owners", """
            CREATE TABLE partition_owners (
                "partition" INTEGER PRIMARY KEY,
                epoch BIGINT NOT NULL
            );
            """),
    ];

    public static int LatestVersion => All[^1].Version;

    /// <summary>Creates <c>schema_version</c> when missing and runs every migration newer than the store, in order.</summary>
    public static void Apply(DuckDBConnection connection, string databasePath)
    {
        Execute(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description VARCHAR NOT NULL)");
        int current = CurrentVersion(connection);
        if (current > LatestVersion)
        {
            throw new InvalidOperationException(
                $"The store {databasePath} has schema version {current}, but this build knows versions up to {LatestVersion}; run a newer tollbooth.");
        }

        for (int i = 0; i < All.Count; i++)
        {
            Migration migration = All[i];
            Debug.Assert(migration.Version == i + 1);
            if (migration.Version > current)
            {
                Run(connection, migration);
            }
        }
    }

    public static int CurrentVersion(DuckDBConnection connection)
    {
        using DuckDBCommand command = connection.CreateCommand();
        command.CommandText = "SELECT CAST(COALESCE(MAX(version), 0) AS INTEGER) FROM schema_version";
        return (int)command.ExecuteScalar()!;
    }

    private static void Run(DuckDBConnection connection, Migration migration)
    {
        Execute(connection, "BEGIN TRANSACTION");
        try
        {
            Execute(connection, migration.Sql);
            using DuckDBCommand record = connection.CreateCommand();
            record.CommandText = "INSERT INTO schema_version VALUES ($version, $description)";
            record.Parameters.Add(new DuckDBParameter("version", migration.Version));
            record.Parameters.Add(new DuckDBParameter("description", migration.Description));
            record.ExecuteNonQuery();
            Execute(connection, "COMMIT");
        }
        catch
        {
            DuckDbSql.RollbackQuietly(connection);
            throw;
        }
    }

    private static void Execute(DuckDBConnection connection, string sql) => DuckDbSql.Execute(connection, sql);
}

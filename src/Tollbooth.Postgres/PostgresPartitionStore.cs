using Npgsql;
using NpgsqlTypes;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Postgres;

/// <summary>
/// The partition state on PostgreSQL (issue 17), shared by every process member: checkpoints, the rows processors
/// may change, owner epochs and the change feed, in the same tables and values as the DuckDB store. A commit is one
/// transaction (I3) that first takes the partition's owner row FOR SHARE and compares its epoch with the lease's: a
/// claim (an UPDATE of that row) waits for commits in flight and every commit after it sees the new epoch, so a
/// superseded owner's commit fails having written nothing. Rows go in by binary COPY into a temporary table and one
/// INSERT ... ON CONFLICT DO UPDATE (absolute values, I2). Thread-safe: each call takes a pooled connection.
/// </summary>
public sealed class PostgresPartitionStore : IPartitionStore, IDisposable
{
    private const string KeyColumns = "minute, ad_id, advertiser_id, campaign_id, publisher_id, country, device";

    private const string RowColumns =
        "\"partition\", " + KeyColumns + ", received, clicks, spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, "
        + "invalid_rate, invalid_unsigned, too_late, late_clicks, unique_users, users_sketch, status, revision, pending, rule_version";

    private const string ChangeColumns =
        "\"partition\", sequence, " + KeyColumns + ", status, revision, received, clicks, spend_micros, duplicate_clicks, "
        + "invalid_bad_token, invalid_bot, invalid_rate, invalid_unsigned, too_late, late_clicks, unique_users, rule_version";

    private const string UpdateRowColumns =
        "\"partition\" = EXCLUDED.\"partition\", received = EXCLUDED.received, clicks = EXCLUDED.clicks, spend_micros = EXCLUDED.spend_micros, "
        + "duplicate_clicks = EXCLUDED.duplicate_clicks, invalid_bad_token = EXCLUDED.invalid_bad_token, invalid_bot = EXCLUDED.invalid_bot, "
        + "invalid_rate = EXCLUDED.invalid_rate, invalid_unsigned = EXCLUDED.invalid_unsigned, too_late = EXCLUDED.too_late, "
        + "late_clicks = EXCLUDED.late_clicks, unique_users = EXCLUDED.unique_users, users_sketch = EXCLUDED.users_sketch, "
        + "status = EXCLUDED.status, revision = EXCLUDED.revision, pending = EXCLUDED.pending, rule_version = EXCLUDED.rule_version";

    private readonly NpgsqlDataSource _source;

    private PostgresPartitionStore(NpgsqlDataSource source)
    {
        _source = source;
    }

    /// <summary>Connects with an Npgsql connection string and brings the schema up to date.</summary>
    public static PostgresPartitionStore Open(string connectionString)
    {
        NpgsqlDataSource source = NpgsqlDataSource.Create(connectionString);
        try
        {
            PostgresSchema.Apply(source);
            return new PostgresPartitionStore(source);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    public PartitionLease Claim(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        using NpgsqlConnection connection = _source.OpenConnection();
        using var command = new NpgsqlCommand(
            "INSERT INTO partition_owners (\"partition\", epoch) VALUES ($1, 1) ON CONFLICT (\"partition\") DO UPDATE SET epoch = partition_owners.epoch + 1 RETURNING epoch",
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = partition });
        return new PartitionLease(partition, (long)command.ExecuteScalar()!);
    }

    public PartitionCheckpoint ReadCheckpoint(int partition)
    {
        using NpgsqlConnection connection = _source.OpenConnection();
        using var command = new NpgsqlCommand("SELECT next_position, max_event_time_ms, next_change_sequence FROM partition_checkpoints WHERE \"partition\" = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = partition });
        using NpgsqlDataReader reader = command.ExecuteReader();
        return reader.Read()
            ? new PartitionCheckpoint(partition, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2))
            : PartitionCheckpoint.Empty(partition);
    }

    public IReadOnlyList<WindowRow> ReadRows(int partition, long fromMinute)
    {
        using NpgsqlConnection connection = _source.OpenConnection();
        using var command = new NpgsqlCommand($"SELECT {RowColumns} FROM window_rows WHERE \"partition\" = $1 AND (minute >= $2 OR pending)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = partition });
        command.Parameters.Add(new NpgsqlParameter { Value = fromMinute });
        return ReadAll(command).ConvertAll(r => r.Row);
    }

    public WindowRow? ReadRow(int partition, WindowKey key)
    {
        using NpgsqlConnection connection = _source.OpenConnection();
        using var command = new NpgsqlCommand(
            $"SELECT {RowColumns} FROM window_rows WHERE \"partition\" = $1 AND minute = $2 AND ad_id = $3 AND advertiser_id = $4 AND campaign_id = $5 AND publisher_id = $6 AND country = $7 AND device = $8",
            connection);
        foreach (object value in (object[])[partition, key.Minute, key.AdId, key.AdvertiserId, key.CampaignId, key.PublisherId, key.Country, (short)key.Device])
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        List<(int Partition, WindowRow Row)> rows = ReadAll(command);
        return rows.Count == 0 ? null : rows[0].Row;
    }

    /// <summary>Every stored row of every partition, ordered by partition and key: for comparisons and audits.</summary>
    public IReadOnlyList<(int Partition, WindowRow Row)> ReadAllRows()
    {
        using NpgsqlConnection connection = _source.OpenConnection();
        using var command = new NpgsqlCommand($"SELECT {RowColumns} FROM window_rows ORDER BY \"partition\", {KeyColumns}", connection);
        return ReadAll(command);
    }

    /// <summary>The partition's published changes in sequence order, as (sequence, key, status, revision, numbers) text.</summary>
    public IReadOnlyList<string> ReadChangesText(int partition)
    {
        using NpgsqlConnection connection = _source.OpenConnection();
        using var command = new NpgsqlCommand($"SELECT {ChangeColumns} FROM window_changes WHERE \"partition\" = $1 ORDER BY sequence", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = partition });
        using NpgsqlDataReader reader = command.ExecuteReader();
        var changes = new List<string>();
        while (reader.Read())
        {
            var fields = new object[reader.FieldCount];
            reader.GetValues(fields);
            changes.Add(string.Join(' ', fields));
        }

        return changes;
    }

    public void Commit(PartitionLease lease, PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes)
    {
        if (lease.Partition != checkpoint.Partition)
        {
            throw new ArgumentException($"A lease of partition {lease.Partition} cannot commit partition {checkpoint.Partition}.", nameof(lease));
        }

        using NpgsqlConnection connection = _source.OpenConnection();
        using NpgsqlTransaction transaction = connection.BeginTransaction();
        long current = CurrentEpoch(connection, lease.Partition);
        if (current != lease.Epoch)
        {
            transaction.Rollback();
            throw new PartitionFencedException(lease, current);
        }

        UpsertRows(connection, lease.Partition, rows);
        AppendChanges(connection, changes);
        using (var upsert = new NpgsqlCommand(
            "INSERT INTO partition_checkpoints (\"partition\", next_position, max_event_time_ms, next_change_sequence) VALUES ($1, $2, $3, $4) " +
            "ON CONFLICT (\"partition\") DO UPDATE SET next_position = EXCLUDED.next_position, max_event_time_ms = EXCLUDED.max_event_time_ms, next_change_sequence = EXCLUDED.next_change_sequence",
            connection))
        {
            foreach (object value in (object[])[checkpoint.Partition, checkpoint.NextPosition, checkpoint.MaxEventTimeMs, checkpoint.NextChangeSequence])
            {
                upsert.Parameters.Add(new NpgsqlParameter { Value = value });
            }

            upsert.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    public void Dispose() => _source.Dispose();

    // FOR SHARE: a claim's UPDATE of the row waits until this transaction ends, and commits after the claim see it.
    private static long CurrentEpoch(NpgsqlConnection connection, int partition)
    {
        using var command = new NpgsqlCommand("SELECT epoch FROM partition_owners WHERE \"partition\" = $1 FOR SHARE", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = partition });
        return command.ExecuteScalar() is long epoch ? epoch : 0;
    }

    private static void UpsertRows(NpgsqlConnection connection, int partition, IReadOnlyList<WindowRow> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        PostgresSchema.Execute(connection, "CREATE TEMP TABLE IF NOT EXISTS window_rows_staging (LIKE window_rows) ON COMMIT DELETE ROWS");
        using (NpgsqlBinaryImporter copy = connection.BeginBinaryImport($"COPY window_rows_staging ({RowColumns}) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (WindowRow row in rows)
            {
                copy.StartRow();
                copy.Write(partition, NpgsqlDbType.Integer);
                WriteKey(copy, row.Key);
                WriteNumbers(copy, row);
                copy.Write(row.Users.Serialize(), NpgsqlDbType.Bytea);
                copy.Write((short)row.Status, NpgsqlDbType.Smallint);
                copy.Write(row.Revision, NpgsqlDbType.Bigint);
                copy.Write(row.Pending, NpgsqlDbType.Boolean);
                copy.Write(row.RuleVersion, NpgsqlDbType.Text);
            }

            copy.Complete();
        }

        PostgresSchema.Execute(connection, $"INSERT INTO window_rows ({RowColumns}) SELECT {RowColumns} FROM window_rows_staging ON CONFLICT ({KeyColumns}) DO UPDATE SET {UpdateRowColumns}");
        PostgresSchema.Execute(connection, "DELETE FROM window_rows_staging");
    }

    private static void AppendChanges(NpgsqlConnection connection, IReadOnlyList<WindowChange> changes)
    {
        if (changes.Count == 0)
        {
            return;
        }

        using NpgsqlBinaryImporter copy = connection.BeginBinaryImport($"COPY window_changes ({ChangeColumns}) FROM STDIN (FORMAT BINARY)");
        foreach (WindowChange change in changes)
        {
            WindowRow row = change.Row;
            copy.StartRow();
            copy.Write(change.Partition, NpgsqlDbType.Integer);
            copy.Write(change.Sequence, NpgsqlDbType.Bigint);
            WriteKey(copy, row.Key);
            copy.Write((short)row.Status, NpgsqlDbType.Smallint);
            copy.Write(row.Revision, NpgsqlDbType.Bigint);
            WriteNumbers(copy, row);
            copy.Write(row.RuleVersion, NpgsqlDbType.Text);
        }

        copy.Complete();
    }

    // The numbers of a row or change, received to unique_users, in the tables' column order.
    private static void WriteNumbers(NpgsqlBinaryImporter copy, WindowRow row)
    {
        foreach (long value in (ReadOnlySpan<long>)[row.Received, row.Clicks, row.SpendMicros, row.DuplicateClicks, row.InvalidBadToken, row.InvalidBot,
            row.InvalidRate, row.InvalidUnsigned, row.TooLate, row.LateClicks, row.Users.Estimate()])
        {
            copy.Write(value, NpgsqlDbType.Bigint);
        }
    }

    private static void WriteKey(NpgsqlBinaryImporter copy, WindowKey key)
    {
        copy.Write(key.Minute, NpgsqlDbType.Bigint);
        copy.Write(key.AdId, NpgsqlDbType.Text);
        copy.Write(key.AdvertiserId, NpgsqlDbType.Text);
        copy.Write(key.CampaignId, NpgsqlDbType.Text);
        copy.Write(key.PublisherId, NpgsqlDbType.Text);
        copy.Write(key.Country, NpgsqlDbType.Text);
        copy.Write((short)key.Device, NpgsqlDbType.Smallint);
    }

    private static List<(int Partition, WindowRow Row)> ReadAll(NpgsqlCommand command)
    {
        using NpgsqlDataReader reader = command.ExecuteReader();
        var rows = new List<(int, WindowRow)>();
        while (reader.Read())
        {
            var key = new WindowKey(reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), (Device)reader.GetInt16(7));
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
                Users = HyperLogLog.Deserialize(reader.GetFieldValue<byte[]>(19)),
                Status = (WindowStatus)reader.GetInt16(20),
                Revision = reader.GetInt64(21),
                Pending = reader.GetBoolean(22),
                RuleVersion = reader.GetString(23),
            };
            rows.Add((reader.GetInt32(0), row));
        }

        return rows;
    }
}

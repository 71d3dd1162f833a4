using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// The embedded store: window rows, partition checkpoints and API keys in one DuckDB file.
/// Writes (commits, <see cref="Clear"/>, key changes) go through one writer connection, one at a time;
/// every read takes a pooled connection of its own, so queries run in parallel with each other and
/// with a commit and see only committed data (DuckDB's MVCC). Commits of different partitions that wait at the
/// same moment are written together in one DuckDB transaction (a group commit, DuckDbStore.GroupCommit.cs),
/// fsynced through DuckDB's write-ahead log before any of them returns (I3); its durability settings are DuckDB's defaults.
/// </summary>
public sealed partial class DuckDbStore : IAggregateStore, IKeyStore
{
    private const string StagingTable = "window_rows_staging";
    private const int IdleReadConnectionsMax = 16;

    private readonly object _writeLock = new();
    private readonly DuckDBConnection _writer;
    private readonly ReaderPool _readers;
    private volatile bool _disposed;

    private DuckDbStore(string databasePath, DuckDBConnection writer, ReaderPool readers, DuckDbStoreOptions options)
    {
        DatabasePath = databasePath;
        _writer = writer;
        _readers = readers;
        _groupCommits = options.GroupCommits;
    }

    /// <summary>The database file.</summary>
    public string DatabasePath { get; }

    /// <summary>
    /// Called inside a group's transaction once per commit of the group (with its checkpoint), after every commit's
    /// rows and checkpoint are written, just before COMMIT: tests throw from it to show that a commit is all or
    /// nothing, and block in it to gather a group.
    /// </summary>
    internal Action<PartitionCheckpoint>? CommitFault { get; set; }

    /// <summary>
    /// Opens the store at <paramref name="databasePath"/>, creating the file and bringing its schema up to date.
    /// A background roller keeps hours pre-rolled unless <paramref name="rollInBackground"/> is false (tests that roll
    /// at chosen moments).
    /// </summary>
    public static DuckDbStore Open(string databasePath, bool rollInBackground = true) =>
        Open(databasePath, new DuckDbStoreOptions { RollInBackground = rollInBackground });

    /// <summary>Opens the store at <paramref name="databasePath"/> with <paramref name="options"/>.</summary>
    public static DuckDbStore Open(string databasePath, DuckDbStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        string path = Path.GetFullPath(databasePath);
        string? directory = Path.GetDirectoryName(path);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        string connectionString = new DuckDBConnectionStringBuilder { DataSource = path }.ConnectionString;
        var writer = new DuckDBConnection(connectionString);
        try
        {
            writer.Open();

            // Global to the database, readers included. On two cores DuckDB's default (a worker per core) kept its
            // workers spinning between the small tasks of every commit (issue 16).
            if (options.Threads > 0)
            {
                DuckDbSql.Execute(writer, $"SET threads = {options.Threads}");
            }

            DuckDbMigrations.Apply(writer, path);

            // The staging table is a temporary table of the writer connection: an appender fills it fast,
            // one INSERT OR REPLACE moves it into window_rows, and it never reaches the file or the WAL.
            DuckDbSql.Execute(writer, $"CREATE TEMP TABLE {StagingTable} AS SELECT {WindowRowColumns.List} FROM window_rows LIMIT 0");
            var store = new DuckDbStore(path, writer, new ReaderPool(connectionString, IdleReadConnectionsMax), options);
            store.LoadRollupState();
            store.LoadDirectory();
            store.LoadOwnerEpochs();
            if (options.RollInBackground)
            {
                store.StartRoller();
            }

            return store;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checkpoints the WAL into the database file and closes the connections. DuckDB releases the file
    /// when the last connection closes, so a read still running finishes first.
    /// </summary>
    public void Dispose()
    {
        _roller?.Dispose();
        lock (_rollLock)
        {
            lock (_writeLock)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _readers.Dispose();
                CheckpointQuietly();
                _writer.Dispose();
            }
        }
    }

    private void CheckpointQuietly()
    {
        // Only an optimisation: every commit is already in the fsynced WAL, which DuckDB replays on open.
        try
        {
            DuckDbSql.Execute(_writer, "CHECKPOINT");
        }
        catch (DuckDBException)
        {
        }
    }

    private ReaderLease Read()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _readers.Rent();
    }

    /// <summary>
    /// Runs <paramref name="write"/> on the writer connection, in a transaction, rolled back if it throws; then,
    /// still under the write lock, <paramref name="committed"/> once the transaction committed.
    /// </summary>
    private void WriteInTransaction<TState>(TState state, Action<DuckDbStore, TState> write, Action<DuckDbStore, TState>? committed = null)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            DuckDbSql.Execute(_writer, "BEGIN TRANSACTION");
            try
            {
                write(this, state);
                DuckDbSql.Execute(_writer, "COMMIT");
            }
            catch
            {
                DuckDbSql.RollbackQuietly(_writer);

                // The transaction may have taken hours away from readers (a commit into rolled hours, a clear); they
                // are rolled again now that it rolled back.
                PublishRolledHours(_rolledHours);
                throw;
            }

            committed?.Invoke(this, state);
        }
    }
}

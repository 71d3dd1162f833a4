namespace Tollbooth.Store;

/// <summary>How <see cref="DuckDbStore.Open(string, DuckDbStoreOptions)"/> opens the store; the defaults are the program's.</summary>
public sealed class DuckDbStoreOptions
{
    /// <summary>The defaults: group commits on, DuckDB threads per <see cref="DefaultThreads"/>, background roller on.</summary>
    public static readonly DuckDbStoreOptions Default = new();

    /// <summary>DuckDB's worker threads unless told otherwise (see <see cref="Threads"/>).</summary>
    public const int DefaultThreads = 0;

    /// <summary>
    /// True (the default): commits of different partitions that wait at the same moment are written in one DuckDB
    /// transaction (a group commit). False: one transaction per commit, the baseline the commit benchmark measures.
    /// </summary>
    public bool GroupCommits { get; init; } = true;

    /// <summary>
    /// DuckDB's <c>threads</c> setting for the database: the query and commit threads DuckDB may run at once, the
    /// calling thread included. It is one setting per database (DuckDB has no per-connection thread count), so the
    /// writer and the readers share it. Zero leaves DuckDB's own default (one thread per core).
    /// </summary>
    public int Threads { get; init; } = DefaultThreads;

    /// <summary>True (the default): a background roller keeps hours pre-rolled; false for tests that roll at chosen moments.</summary>
    public bool RollInBackground { get; init; } = true;
}

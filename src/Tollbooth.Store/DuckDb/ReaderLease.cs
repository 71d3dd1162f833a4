using DuckDB.NET.Data;

namespace Tollbooth.Store;

/// <summary>A read connection borrowed from a <see cref="ReaderPool"/> for one query; dispose returns it.</summary>
internal readonly ref struct ReaderLease
{
    private readonly ReaderPool _pool;

    public ReaderLease(ReaderPool pool, DuckDBConnection connection)
    {
        _pool = pool;
        Connection = connection;
    }

    public DuckDBConnection Connection { get; }

    public void Dispose()
    {
        _pool.Return(Connection);
    }
}

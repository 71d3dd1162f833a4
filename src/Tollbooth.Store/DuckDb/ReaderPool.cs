using System.Collections.Concurrent;
using DuckDB.NET.Data;

namespace Tollbooth.Store;

/// <summary>
/// Read connections to the store's database. DuckDB.NET shares one database instance among the
/// connections a process opens to the same file, and DuckDB runs queries of different connections in
/// parallel under MVCC, so each query takes a connection of its own and readers never wait on the writer.
/// </summary>
internal sealed class ReaderPool : IDisposable
{
    private readonly string _connectionString;
    private readonly int _idleConnectionsMax;
    private readonly ConcurrentBag<DuckDBConnection> _idle = new();
    private volatile bool _disposed;

    public ReaderPool(string connectionString, int idleConnectionsMax)
    {
        _connectionString = connectionString;
        _idleConnectionsMax = idleConnectionsMax;
    }

    public ReaderLease Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryTake(out DuckDBConnection? connection))
        {
            return new ReaderLease(this, connection);
        }

        var opened = new DuckDBConnection(_connectionString);
        opened.Open();
        return new ReaderLease(this, opened);
    }

    public void Return(DuckDBConnection connection)
    {
        // More idle connections than queries ever run at once only hold memory; a burst beyond the
        // maximum closes its extra connections instead of keeping them.
        if (_disposed || _idle.Count >= _idleConnectionsMax)
        {
            connection.Dispose();
            return;
        }

        _idle.Add(connection);
        while (_disposed && _idle.TryTake(out DuckDBConnection? late))
        {
            late.Dispose();
        }
    }

    /// <summary>Closes the idle connections; a connection still leased closes when its query returns it.</summary>
    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out DuckDBConnection? connection))
        {
            connection.Dispose();
        }
    }
}

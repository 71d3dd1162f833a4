using DuckDB.NET.Data;

namespace Tollbooth.Store;

/// <summary>Small helpers over DuckDB.NET commands, shared by the store and its migrations.</summary>
internal static class DuckDbSql
{
    public static void Execute(DuckDBConnection connection, string sql)
    {
        using DuckDBCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static DuckDBCommand Command(DuckDBConnection connection, string sql)
    {
        DuckDBCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    public static void Add(DuckDBCommand command, string name, object? value)
    {
        command.Parameters.Add(new DuckDBParameter(name, value));
    }

    /// <summary>
    /// Ends the connection's open transaction after a failure. DuckDB has already ended it when the failure
    /// was the COMMIT itself, and then ROLLBACK reports that no transaction is active; that is expected,
    /// and the caller rethrows the original failure, which says more.
    /// </summary>
    public static void RollbackQuietly(DuckDBConnection connection)
    {
        try
        {
            Execute(connection, "ROLLBACK");
        }
        catch (DuckDBException)
        {
        }
    }
}

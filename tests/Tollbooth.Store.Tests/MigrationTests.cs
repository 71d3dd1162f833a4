// Goal: opening a store brings its schema to the latest version exactly once and refuses a store written
// by a newer build. Method: open and reopen a file in a temp directory and inspect schema_version through
// a DuckDB connection of its own; forge a newer version row to see the refusal.
using DuckDB.NET.Data;

namespace Tollbooth.Store.Tests;

public sealed class MigrationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Migrations_count_up_from_one_without_gaps()
    {
        for (int i = 0; i < DuckDbMigrations.All.Count; i++)
        {
            Assert.Equal(i + 1, DuckDbMigrations.All[i].Version);
        }
    }

    [Fact]
    public void Opening_a_new_file_applies_every_migration_once()
    {
        DuckDbStore.Open(_directory.DatabasePath).Dispose();
        DuckDbStore.Open(_directory.DatabasePath).Dispose();

        Assert.Equal(
            Enumerable.Range(1, DuckDbMigrations.LatestVersion).Select(version => (long)version),
            Query(_directory.DatabasePath, "SELECT version FROM schema_version ORDER BY version"));
    }

    [Fact]
    public void A_store_from_a_newer_build_is_refused_with_the_version_numbers()
    {
        DuckDbStore.Open(_directory.DatabasePath).Dispose();
        int newer = DuckDbMigrations.LatestVersion + 1;
        Query(_directory.DatabasePath, $"INSERT INTO schema_version VALUES ({newer}, 'from the future')");

        var error = Assert.Throws<InvalidOperationException>(() => DuckDbStore.Open(_directory.DatabasePath));

        Assert.Contains($"schema version {newer}", error.Message);
        Assert.Contains("run a newer tollbooth", error.Message);
    }

    private static List<long> Query(string path, string sql)
    {
        using var connection = new DuckDBConnection("Data Source=" + path);
        connection.Open();
        using DuckDBCommand command = connection.CreateCommand();
        command.CommandText = sql;
        using DuckDBDataReader reader = command.ExecuteReader();
        var values = new List<long>();
        while (reader.Read())
        {
            values.Add(reader.FieldCount > 0 && !reader.IsDBNull(0) ? Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture) : 0);
        }

        return values;
    }
}

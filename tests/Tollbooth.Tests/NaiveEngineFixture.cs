namespace Tollbooth.Tests;

/// <summary>A real PostgreSQL cluster and `tollbooth serve --engine naive` on it, shared by a test class.</summary>
public sealed class NaiveEngineFixture : IDisposable
{
    public NaiveEngineFixture()
    {
        Postgres = PostgresCluster.Start();
        try
        {
            Server = new TollboothProcess(null, "--engine", "naive", "--store", Postgres.Url);
            Server.Start();
            Admin = new TollboothClient(Server.BaseAddress, TollboothProcess.AdminKey);
        }
        catch
        {
            Server?.Dispose();
            Postgres.Dispose();
            throw;
        }
    }

    public PostgresCluster Postgres { get; }

    public TollboothProcess Server { get; }

    public TollboothClient Admin { get; }

    public void Dispose()
    {
        Admin.Dispose();
        Server.Dispose();
        Postgres.Dispose();
    }
}

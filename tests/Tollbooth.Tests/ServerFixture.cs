namespace Tollbooth.Tests;

/// <summary>One running `tollbooth serve` shared by the tests of a class, with small request limits.</summary>
public sealed class ServerFixture : IDisposable
{
    public ServerFixture()
    {
        Server = new TollboothProcess(null, "--Ingest:ClicksPerRequestMax", "50", "--Ingest:BodyBytesMax", "65536", "--Processing:CommitIntervalMs", "20");
        Server.Start();
        Admin = new TollboothClient(Server.BaseAddress, TollboothProcess.AdminKey);
    }

    public TollboothProcess Server { get; }

    public TollboothClient Admin { get; }

    public void Dispose()
    {
        Admin.Dispose();
        Server.Dispose();
    }
}

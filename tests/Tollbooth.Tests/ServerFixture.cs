namespace Tollbooth.Tests;

/// <summary>One running `tollbooth serve` shared by the tests of a class, started with the given settings.</summary>
public abstract class RunningServer : IDisposable
{
    protected RunningServer(params string[] settings)
    {
        Server = new TollboothProcess(null, settings);
        Server.Start();
        Admin = new TollboothClient(Server.BaseAddress, TollboothProcess.AdminKey);
    }

    public TollboothProcess Server { get; }

    public TollboothClient Admin { get; }

    public void Dispose()
    {
        Admin.Dispose();
        Server.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>One running `tollbooth serve` shared by the tests of a class, with small request limits.</summary>
public sealed class ServerFixture() : RunningServer("--Ingest:ClicksPerRequestMax", "50", "--Ingest:BodyBytesMax", "65536", "--Processing:CommitIntervalMs", "20");

// Goal: a real PostgreSQL 15 server for the naive engine's tests and benchmarks, never a mock. Method:
// initdb a fresh cluster in a temp directory and run it with pg_ctl on 127.0.0.1 on a free port (trust
// authentication, default settings otherwise); PostgreSQL refuses to run as root, so as root every
// PostgreSQL program runs as the `postgres` user through runuser. Stop() removes everything.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tollbooth.Tests;

public sealed class PostgresCluster : IDisposable
{
    public const string User = "tollbooth";
    private const string OsUser = "postgres";
    private readonly string _binDirectory;
    private readonly bool _asRoot;

    private PostgresCluster(string directory, int port, string binDirectory, bool asRoot)
    {
        Directory = directory;
        Port = port;
        _binDirectory = binDirectory;
        _asRoot = asRoot;
    }

    public string Directory { get; }

    public int Port { get; }

    public string DataDirectory => Path.Combine(Directory, "data");

    /// <summary>The URL for <c>--store</c>.</summary>
    public string Url => $"postgres://{User}@127.0.0.1:{Port}/postgres";

    /// <summary>The same database as an Npgsql connection string.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username={User};Database=postgres;Pooling=false";

    /// <summary>Makes a new cluster and starts it; throws with PostgreSQL's own output when that fails.</summary>
    public static PostgresCluster Start()
    {
        string binDirectory = Environment.GetEnvironmentVariable("TOLLBOOTH_PG_BIN") ?? "/usr/lib/postgresql/15/bin";
        if (!File.Exists(Path.Combine(binDirectory, "initdb")))
        {
            throw new InvalidOperationException($"No PostgreSQL at {binDirectory}: install Debian's postgresql package (test.sh does) or set TOLLBOOTH_PG_BIN.");
        }

        string directory = Path.Combine(Path.GetTempPath(), "tollbooth-pg-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        bool asRoot = Environment.UserName == "root";
        var cluster = new PostgresCluster(directory, FreePort(), binDirectory, asRoot);
        try
        {
            if (asRoot)
            {
                Run("chown", OsUser, directory);
            }

            cluster.RunPostgres("initdb", "-D", cluster.DataDirectory, "-U", User, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync");
            cluster.StartServer();
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Starts the server (again) and waits until it accepts connections.</summary>
    public void StartServer() =>
        RunPostgres("pg_ctl", "-D", DataDirectory, "-l", Path.Combine(Directory, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -k {Directory}", "start");

    /// <summary>Stops the server at once, like a crash (pg_ctl -m immediate): recovery replays the WAL on the next start.</summary>
    public void StopImmediately() => RunPostgres("pg_ctl", "-D", DataDirectory, "-m", "immediate", "-w", "stop");

    public void Dispose()
    {
        try
        {
            RunPostgres("pg_ctl", "-D", DataDirectory, "-m", "fast", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // Not running (never started, or stopped already): nothing to stop.
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void RunPostgres(string program, params string[] args)
    {
        string path = Path.Combine(_binDirectory, program);
        if (_asRoot)
        {
            Run("runuser", ["-u", OsUser, "--", path, .. args]);
        }
        else
        {
            Run(path, args);
        }
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 2 minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {stdout.Result} {stderr.Result}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

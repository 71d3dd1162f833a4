// Goal: drive the real program, `tollbooth serve`, as a child process over loopback, the way an
// operator runs it. Method: start `dotnet tollbooth.dll` with a data directory and a free port, wait for
// its `listening on` line (polling with a deadline), and offer kill -9, SIGTERM and restart.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tollbooth.Tests;

public sealed class TollboothProcess : IDisposable
{
    public const string AdminKey = "tb_test_admin_key_0123456789";

    private readonly ConcurrentQueue<string> _output = new();
    private readonly string[] _extraArgs;
    private Process? _process;

    public TollboothProcess(string? dataDirectory = null, params string[] extraArgs)
    {
        DataDirectory = dataDirectory ?? NewDataDirectory();
        _extraArgs = extraArgs;
        Port = FreePort();
    }

    public string DataDirectory { get; }

    public int Port { get; private set; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    public string Output => string.Join('\n', _output);

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Extra environment variables for the next <see cref="Start"/> (such as TOLLBOOTH_FAILPOINTS).</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>A command to run the program under (such as strace and its flags), or empty for none.</summary>
    public List<string> Wrapper { get; } = new();

    /// <summary>The id of the process started (the wrapper's, when there is one).</summary>
    public int ProcessId => _process!.Id;

    /// <summary>The exit code of the last run, once it has exited.</summary>
    public int ExitCode => _process!.ExitCode;

    /// <summary>Waits for the program to exit by itself; false when it is still running at the deadline.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (_process is null || !_process.WaitForExit(timeout))
        {
            return _process is null;
        }

        _process.WaitForExit();
        return true;
    }

    public static string NewDataDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "tollbooth-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public static string ProgramPath() =>
        Path.Combine(RepositoryRoot(), "src", "Tollbooth", "bin", Configuration(), "net10.0", "tollbooth.dll");

    /// <summary>The configuration these tests were built in (Release or Debug), so the program is the same build.</summary>
    public static string Configuration() =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    /// <summary>The folder holding Tollbooth.slnx, above the tests' output.</summary>
    public static string RepositoryRoot()
    {
        string directory = AppContext.BaseDirectory;
        DirectoryInfo? root = new(directory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Tollbooth.slnx")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new InvalidOperationException($"No Tollbooth.slnx above {directory}.");
    }

    /// <summary>Runs a non-serving verb (replay, dump) to completion; returns exit code and output.</summary>
    public static (int ExitCode, string StandardOutput, string StandardError) RunVerb(params string[] args) => RunVerbWithClockOffset(null, args);

    /// <summary>
    /// Runs a verb under libfaketime (Debian's faketime) with the wall clock moved by
    /// <paramref name="clockOffset"/> (such as "+400d"), or as is when null.
    /// </summary>
    public static (int ExitCode, string StandardOutput, string StandardError) RunVerbWithClockOffset(string? clockOffset, params string[] args) =>
        RunVerb(clockOffset, new Dictionary<string, string>(), args);

    /// <summary>Runs a verb to completion with these environment variables added.</summary>
    public static (int ExitCode, string StandardOutput, string StandardError) RunVerbWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunVerb(null, environment, args);

    private static (int ExitCode, string StandardOutput, string StandardError) RunVerb(string? clockOffset, IReadOnlyDictionary<string, string> environment, string[] args)
    {
        var start = new ProcessStartInfo(clockOffset is null ? "dotnet" : "faketime") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        if (clockOffset is not null)
        {
            // Only the wall clock moves: the runtime's timers keep the real monotonic clock.
            start.Environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1";
            start.ArgumentList.Add("-f");
            start.ArgumentList.Add(clockOffset);
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(ProgramPath());
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tollbooth {string.Join(' ', args)} did not finish in 5 minutes.");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    public void Start()
    {
        Task listening = Launch();
        try
        {
            if (!listening.Wait(TimeSpan.FromSeconds(90)))
            {
                throw new TimeoutException("tollbooth did not print 'listening on' within 90 s.");
            }
        }
        catch (Exception exception)
        {
            throw new InvalidOperationException($"tollbooth failed to start: {exception.Message}\n{Output}", exception);
        }
    }

    /// <summary>
    /// Starts the program without waiting for it (so a test can kill it while it recovers): the task completes
    /// when it prints <c>listening on</c>, and fails if it exits first.
    /// </summary>
    public Task Launch()
    {
        _output.Clear();
        var start = new ProcessStartInfo(Wrapper.Count > 0 ? Wrapper[0] : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])[.. Wrapper.Skip(1), .. Wrapper.Count > 0 ? ["dotnet"] : Array.Empty<string>(), ProgramPath(), "serve", "--data", DataDirectory, "--urls", BaseAddress.ToString().TrimEnd('/'), .. _extraArgs])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["TOLLBOOTH_ADMIN_KEY"] = AdminKey;
        foreach ((string name, string value) in Environment)
        {
            start.Environment[name] = value;
        }
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _process?.Dispose(); // the previous run's, which has exited: a kill test starts hundreds
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            _output.Enqueue(e.Data);
            if (e.Data.StartsWith("listening on ", StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _output.Enqueue(e.Data);
            }
        };
        _process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("tollbooth exited before listening."));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        return listening.Task;
    }

    /// <summary>kill -9: no chance to flush, commit or say goodbye.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, then waits for a clean exit; returns the exit code.</summary>
    public int Terminate(TimeSpan timeout)
    {
        if (_process is null || _process.HasExited)
        {
            return _process?.ExitCode ?? 0;
        }

        if (Sys.Kill(_process.Id, Sys.SigTerm) != 0)
        {
            throw new InvalidOperationException("kill(SIGTERM) failed.");
        }

        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tollbooth did not exit within {timeout} of SIGTERM.\n{Output}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

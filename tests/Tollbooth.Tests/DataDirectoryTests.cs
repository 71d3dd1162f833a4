// Goal: the data goes where the README says, and a command that reads a store never makes one (issue 19).
// Method: run the program the way the quick start does (`dotnet run --project src/Tollbooth -c Release --
// serve`, no --data) from a fresh folder that is not the project's, look where the store landed, and read it
// back with `dotnet run ... -- dump` from the same folder; run dump, reconcile and replay against a missing
// and an empty folder and check that each refuses in one line naming the folder and --data, exits 2 and
// leaves the folder as it was; and beside a running service, that each says to stop it.
using System.Collections.Concurrent;
using System.Diagnostics;

namespace Tollbooth.Tests;

public sealed class DataDirectoryTests
{
    private static readonly string s_project = Path.Combine(TollboothProcess.RepositoryRoot(), "src", "Tollbooth");

    [Theory]
    [InlineData("dump", false)]
    [InlineData("dump", true)]
    [InlineData("reconcile", false)]
    [InlineData("reconcile", true)]
    [InlineData("replay", false)]
    [InlineData("replay", true)]
    public void A_command_that_reads_a_store_refuses_a_directory_without_one_and_creates_nothing(string verb, bool directoryExists)
    {
        string parent = TollboothProcess.NewDataDirectory();
        string data = Path.Combine(parent, "no-store-here");
        if (directoryExists)
        {
            Directory.CreateDirectory(data);
        }

        try
        {
            (int code, string output, string error) = TollboothProcess.RunVerb(verb, "--data", data);

            Assert.True(code == 2, $"tollbooth {verb} exited {code}: {output}{error}");
            string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: {data} holds no Tollbooth store", line);
            Assert.Contains("--data DIR", line);
            Assert.Equal(directoryExists, Directory.Exists(data));
            Assert.Equal(directoryExists ? [data] : [], Directory.GetFileSystemEntries(parent, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Theory]
    [InlineData("dump")]
    [InlineData("reconcile")]
    public void A_command_that_reads_a_store_while_the_service_runs_says_to_stop_the_service(string verb)
    {
        using var server = new TollboothProcess(null, "--Log:Partitions", "1");
        server.Start();

        (int code, string output, string error) = TollboothProcess.RunVerb(verb, "--data", server.DataDirectory, "--Log:Partitions", "1");

        Assert.True(code == 2, $"tollbooth {verb} beside serve exited {code}: {output}{error}");
        Assert.Contains($"`tollbooth {verb}` needs the store to itself: stop the service, then run it again.", error);
        Assert.True(server.IsRunning);
    }

    [Fact]
    public async Task The_quick_start_keeps_its_data_in_data_under_the_folder_it_was_run_from()
    {
        string folder = TollboothProcess.NewDataDirectory();
        try
        {
            var lines = new ConcurrentQueue<string>();
            var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (Process serve = StartDotnetRun(folder, "serve", "--urls", "http://127.0.0.1:0"))
            {
                serve.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is not null)
                    {
                        lines.Enqueue(e.Data);
                        if (e.Data.StartsWith("listening on ", StringComparison.Ordinal))
                        {
                            listening.TrySetResult();
                        }
                    }
                };
                serve.ErrorDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
                serve.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("exited before listening"));
                serve.EnableRaisingEvents = true;
                serve.BeginOutputReadLine();
                serve.BeginErrorReadLine();
                try
                {
                    await listening.Task.WaitAsync(TimeSpan.FromSeconds(90));
                    Assert.True(File.Exists(Path.Combine(folder, "data", "tollbooth.json")), $"no store in {folder}/data: {string.Join('\n', lines)}");
                }
                finally
                {
                    serve.Kill(entireProcessTree: true);
                    await serve.WaitForExitAsync();
                }
            }

            using Process dump = StartDotnetRun(folder, "dump");
            Task<string> output = dump.StandardOutput.ReadToEndAsync();
            Task<string> error = dump.StandardError.ReadToEndAsync();
            await dump.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(dump.ExitCode == 0, $"dump from {folder} exited {dump.ExitCode}: {await output}{await error}");
            Assert.StartsWith("rows 0 sha256 ", (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>`dotnet run --project src/Tollbooth -c CONFIG -- ARGS` in <paramref name="workingDirectory"/>, on the tests' own build.</summary>
    private static Process StartDotnetRun(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in (string[])["run", "--project", s_project, "-c", TollboothProcess.Configuration(), "--no-build", "--", .. args])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["TOLLBOOTH_ADMIN_KEY"] = TollboothProcess.AdminKey;
        return Process.Start(start)!;
    }
}

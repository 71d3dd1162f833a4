// Goal: a Kafka-protocol cluster for the tests, in a process of its own (so the tests can kill members without
// taking the brokers down): `tollbooth dev-kafka`, started with a deadline on its `bootstrap` line.
using System.Collections.Concurrent;
using System.Diagnostics;

namespace Tollbooth.Tests;

public sealed class DevKafkaProcess : IDisposable
{
    private static readonly TimeSpan s_startDeadline = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private DevKafkaProcess(Process process, ConcurrentQueue<string> output, string bootstrapServers)
    {
        _process = process;
        _output = output;
        BootstrapServers = bootstrapServers;
    }

    public string BootstrapServers { get; }

    public string Output => string.Join('\n', _output);

    /// <summary>Starts <c>tollbooth dev-kafka</c> with <paramref name="args"/> and waits for its bootstrap line.</summary>
    public static DevKafkaProcess Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])[TollboothProcess.ProgramPath(), "dev-kafka", .. args])
        {
            start.ArgumentList.Add(arg);
        }

        var output = new ConcurrentQueue<string>();
        var bootstrap = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null)
            {
                bootstrap.TrySetException(new InvalidOperationException("dev-kafka ended its output before printing the bootstrap line."));
                return;
            }

            output.Enqueue(line.Data);
            if (line.Data.StartsWith("bootstrap ", StringComparison.Ordinal))
            {
                bootstrap.TrySetResult(line.Data["bootstrap ".Length..]);
            }
        };
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null)
            {
                output.Enqueue(line.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!bootstrap.Task.Wait(s_startDeadline))
        {
            process.Kill();
            throw new TimeoutException($"dev-kafka printed no bootstrap line within {s_startDeadline.TotalSeconds} s:\n{string.Join('\n', output)}");
        }

        return new DevKafkaProcess(process, output, bootstrap.Task.Result);
    }

    /// <summary>Sends SIGTERM and waits for the exit; the exit code, or null when it did not exit in time.</summary>
    public int? Terminate(TimeSpan timeout)
    {
        Sys.Kill(_process.Id, Sys.SigTerm);
        return _process.WaitForExit(timeout) ? _process.ExitCode : null;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}

// Goal: `tollbooth loadgen` checks a real server's counts against its own truth, says so, and exits 1 with
// each mismatch when the truth is wrong; the long commands print plain lines when their output is
// redirected. Method: start `tollbooth serve` as a child process, run loadgen against it with a fixed seed
// (TOLLBOOTH_TEST_SEED overrides it) and a few thousand clicks as fast as they are acknowledged; for the
// failing check, start a server whose rate rule (5 clicks a user, ad and minute) is stricter than the one
// loadgen assumes (10), so every rate burst it sends is counted differently. Loadgen itself waits, with a
// deadline, until the server's lag is 0; no test asserts a timing.
namespace Tollbooth.Tests;

public sealed class LoadgenTests : IClassFixture<LoadgenTests.MatchingRun>
{
    private readonly MatchingRun _run;

    public LoadgenTests(MatchingRun run)
    {
        _run = run;
    }

    private static int Seed => int.Parse(Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED") ?? "42", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Loadgen_says_counts_match_against_the_real_server()
    {
        (int code, string output, string error) = _run.Loadgen;
        Assert.True(code == 0, $"seed {Seed}: loadgen exited {code}.\n{output}\n{error}");
        Assert.Contains("counts match: ", output);
        Assert.Contains("the server has counted every acknowledged click (lag 0)", output);
        Assert.DoesNotContain("mismatch", output);
    }

    [Fact]
    public void Redirected_output_is_plain_lines_without_escape_codes()
    {
        foreach ((string verb, string output) in new[] { ("loadgen", _run.Loadgen.Output), ("replay", _run.Replay.Output), ("reconcile", _run.Reconcile.Output) })
        {
            Assert.False(output.Contains('\u001b'), $"seed {Seed}: {verb} wrote an escape code to redirected output:\n{output}");
            Assert.False(output.Contains('\r'), $"seed {Seed}: {verb} wrote a carriage return to redirected output:\n{output}");
        }

        Assert.Contains("sent 3,000 clicks in ", _run.Loadgen.Output);
        Assert.True(_run.Replay.Code == 0, $"replay exited {_run.Replay.Code}.\n{_run.Replay.Output}\n{_run.Replay.Error}");
        Assert.Contains("\nreplayed ", _run.Replay.Output);
        Assert.True(_run.Reconcile.Code == 0, $"reconcile exited {_run.Reconcile.Code}.\n{_run.Reconcile.Output}\n{_run.Reconcile.Error}");
        Assert.Contains("differences 0", _run.Reconcile.Output);
    }

    [Fact]
    public void Loadgen_names_each_mismatch_and_exits_1_when_the_server_counts_the_rate_rule_differently()
    {
        using var server = new TollboothProcess(null, "--Processing:CommitIntervalMs", "20", "--Rules:UserClicksPerAdPerMinuteMax", "5");
        server.Start();

        (int code, string output, string error) = RunLoadgen(server, clicks: 4000);

        Assert.True(code == 1, $"seed {Seed}: loadgen exited {code}, expected 1 (mismatch).\n{output}\n{error}");
        Assert.Matches(@"mismatch: ad lg-test-\S+: clicks \d+ \(expected \d+\)", output);
        Assert.Contains("invalid_by_reason.rate", output);
        Assert.Contains("counts differ on ", output);
        Assert.DoesNotContain("counts match", output);
    }

    private static (int Code, string Output, string Error) RunLoadgen(TollboothProcess server, int clicks) =>
        TollboothProcess.RunVerb(
            "loadgen", "--url", server.BaseAddress.ToString(), "--key", TollboothProcess.AdminKey, "--rate", "max",
            "--clicks", clicks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--ads", "50", "--connections", "4", "--run-id", "lg-test");

    /// <summary>One loadgen run against a server with the default rules, then replay and reconcile of its data.</summary>
    public sealed class MatchingRun : IDisposable
    {
        private readonly TollboothProcess _server;

        public MatchingRun()
        {
            _server = new TollboothProcess(null, "--Processing:CommitIntervalMs", "20");
            _server.Start();
            Loadgen = RunLoadgen(_server, clicks: 3000);
            if (_server.Terminate(TimeSpan.FromSeconds(60)) != 0)
            {
                throw new InvalidOperationException($"tollbooth serve did not exit 0 on SIGTERM.\n{_server.Output}");
            }

            Replay = TollboothProcess.RunVerb("replay", "--data", _server.DataDirectory);
            Reconcile = TollboothProcess.RunVerb("reconcile", "--data", _server.DataDirectory);
        }

        public (int Code, string Output, string Error) Loadgen { get; }

        public (int Code, string Output, string Error) Replay { get; }

        public (int Code, string Output, string Error) Reconcile { get; }

        public void Dispose() => _server.Dispose();
    }
}

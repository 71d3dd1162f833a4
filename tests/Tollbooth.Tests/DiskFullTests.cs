// Goal: when the log's disk is full, a client gets 503 with Retry-After and the stable code disk_full, never a 202
// for clicks that are not durable, and the same running process takes clicks again once space returns: no restart,
// every acknowledged click counted exactly once, and a fresh replay gives the same rows. Method: a 4 MiB tmpfs is
// mounted on the data directory's log/ (the test runs as root, like CI here; without mount permission it fails and
// says so), mostly filled with a filler file; one client sends batches until five are refused (a smaller batch
// may still fit in what a refused one left). Then the filler is deleted and every refused batch is sent again, polling
// with a deadline until each is acknowledged by the same process; then lag 0, the dump against the journal, a replay.
using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class DiskFullTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Full_disk_answers_503_with_retry_after_and_the_same_process_accepts_again_when_space_returns()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        var journal = new ClickJournal(seed);
        using var server = new TollboothProcess(null, "--Log:Partitions", "1");
        string log = Path.Combine(server.DataDirectory, "log");
        Directory.CreateDirectory(log);
        (int mountCode, string mountError) = Run("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", log);
        Assert.True(mountCode == 0, $"cannot mount a 4 MiB tmpfs for the full-disk test (needs root or CAP_SYS_ADMIN): {mountError}");
        try
        {
            string filler = Path.Combine(log, "filler");
            File.WriteAllBytes(filler, new byte[(4 << 20) - (768 << 10)]);
            server.Start();
            var refused = new List<ClickJournal.Batch>();
            int processId = server.ProcessId;
            using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
            {
                for (int i = 0; i < 1000 && refused.Count < 5; i++)
                {
                    ClickJournal.Batch batch = journal.NewBatch(random, 400);
                    using HttpResponseMessage response = await client.PostClicksAsync(batch.Body);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        // A batch smaller than the space a refused one left may still fit: its 202 is as durable as any.
                        batch.Acknowledged = true;
                        continue;
                    }

                    string body = await response.Content.ReadAsStringAsync();
                    Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"seed {seed}: a full disk answered {(int)response.StatusCode} {body}");
                    Assert.True(response.Headers.RetryAfter is not null, $"seed {seed}: the 503 has no Retry-After.");
                    Assert.Contains("\"code\":\"disk_full\"", body);
                    refused.Add(batch);
                }

                Assert.True(refused.Count == 5, $"seed {seed}: the 4 MiB log disk never filled.");
                Assert.True(server.IsRunning, $"seed {seed}: the program stopped on a full disk.\n{FaultChecks.Tail(server.Output)}");
                long acknowledgedWhileFull = journal.RequestsAcknowledged;

                File.Delete(filler);
                await SendUntilAcknowledgedAsync(client, refused, seed, TimeSpan.FromSeconds(60));
                Assert.Equal(processId, server.ProcessId);
                await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(1));
                output.WriteLine($"seed {seed}: {acknowledgedWhileFull} batches acknowledged before the 4 MiB log disk filled, {refused.Count} refused with 503 disk_full; all acknowledged by the same process once space returned.");
            }

            Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
            Assert.Contains("disk is full", server.Output);
            Assert.Contains("has space again", server.Output);
            string dump = FaultChecks.Dump(server.DataDirectory, 1);
            ClickJournal.Verdict verdict = journal.Check(dump);
            Assert.True(verdict.Problems.Count == 0, $"seed {seed}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}");
            Assert.Equal(0, verdict.UnknownCounted + verdict.UnknownNotCounted);
            FaultChecks.AssertFreshReplayGivesTheSameRows(server.DataDirectory, 1, dump, $"seed {seed}");
            output.WriteLine($"seed {seed}: {verdict}.");
        }
        finally
        {
            server.Kill();
            Run("umount", "-l", log);
        }
    }

    /// <summary>Sends each refused batch again (same click ids) until it gets a 202; any answer but 202 or 503 disk_full fails.</summary>
    private static async Task SendUntilAcknowledgedAsync(TollboothClient client, List<ClickJournal.Batch> batches, int seed, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        foreach (ClickJournal.Batch batch in batches)
        {
            while (true)
            {
                using HttpResponseMessage response = await client.PostClicksAsync(batch.Body);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    batch.Acknowledged = true;
                    break;
                }

                string body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable && body.Contains("\"code\":\"disk_full\"", StringComparison.Ordinal), $"seed {seed}: after the space returned: {(int)response.StatusCode} {body}");
                Assert.True(DateTime.UtcNow < deadline, $"seed {seed}: still refused {timeout} after the space returned: {body}");
                await Task.Delay(TimeSpan.FromSeconds(response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 1) / 10);
            }
        }
    }

    private static (int Code, string Error) Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }
}

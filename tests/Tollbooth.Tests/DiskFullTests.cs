// Goal: when the log's disk is full, a client gets 503 with Retry-After and a stable code, never a 202 for
// clicks that are not durable, and once space returns a restart counts every acknowledged click exactly once.
// Today ENOSPC on a segment write is fail-stop (SegmentLog.Fail explains why): the program answers 503 and
// exits 1; it does not yet resume by itself when space returns. Method: a 4 MiB tmpfs is mounted on the data
// directory's log/ (the test runs as root, like CI here; without mount permission it fails and says so),
// mostly filled with a filler file; one client sends batches until an answer is not 202. Then the filler is
// deleted, the program restarted, and the dump checked against the journal and a fresh replay.
using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class DiskFullTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Full_disk_answers_503_with_retry_after_and_never_acknowledges_what_is_not_durable()
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
            HttpResponseMessage? refused = null;
            using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
            {
                for (int i = 0; i < 1000 && refused is null; i++)
                {
                    ClickJournal.Batch batch = journal.NewBatch(random, 400);
                    HttpResponseMessage response = await client.PostClicksAsync(batch.Body);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        batch.Acknowledged = true;
                        response.Dispose();
                    }
                    else
                    {
                        refused = response;
                    }
                }
            }

            Assert.NotNull(refused);
            using (refused)
            {
                string body = await refused.Content.ReadAsStringAsync();
                Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"seed {seed}: a full disk answered {(int)refused.StatusCode} {body}");
                Assert.True(refused.Headers.RetryAfter is not null, $"seed {seed}: the 503 has no Retry-After.");
                Assert.Contains("\"code\":\"storage_failed\"", body);
            }

            Assert.True(await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(60))), "the program kept running after its log failed.");
            Assert.Equal(1, server.ExitCode);
            Assert.Contains("No space left on device", server.Output);

            File.Delete(filler);
            server.Start();
            using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
            {
                await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(1));
            }

            Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
            string dump = FaultChecks.Dump(server.DataDirectory, 1);
            ClickJournal.Verdict verdict = journal.Check(dump);
            Assert.True(verdict.Problems.Count == 0, $"seed {seed}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}");
            FaultChecks.AssertFreshReplayGivesTheSameRows(server.DataDirectory, 1, dump, $"seed {seed}");
            output.WriteLine($"seed {seed}: the 4 MiB log disk filled after {verdict.Acknowledged} acknowledged clicks; 503 with Retry-After, no 202 after; after space returned and a restart {verdict}.");
        }
        finally
        {
            server.Kill();
            Run("umount", "-l", log);
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

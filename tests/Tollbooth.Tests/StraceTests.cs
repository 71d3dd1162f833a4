// Goal: the kernel's answers decide what is acknowledged. A failed fdatasync of a segment (EIO, or ENOSPC), a
// failed fsync of its directory during a roll, or a segment write failing with EIO is fail-stop: the request in
// flight is never answered 202, no request sent after the first failure is, the program exits, and after a restart
// nothing acknowledged is lost or counted twice (I1). A segment write refused with ENOSPC is not: that request gets
// 503 disk_full, and the same process acknowledges the next ones, each click counted once. And an audit of the real program's system calls shows
// every 202 sent only after an fdatasync that followed the last segment write, and every new segment's
// directory fsynced before anything is written to it. Method: `tollbooth serve` runs under strace
// (Debian's, installed by test.sh): `-e inject=...:error=EIO:when=N` limited with -P to one file fails the
// Nth call on that file; `-yy` traces name files and sockets for the audit. A data directory made by a plain
// start first; start-up then makes one fdatasync of the last segment and one fsync of the partition directory
// (recovery makes what it accepts durable), counted in N, and no segment write.
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed partial class StraceTests(ITestOutputHelper output)
{
    private const string Segment0 = "00000000000000000000.seg";

    [Theory]
    [InlineData("fdatasync", "EIO", "segment", 4)]
    [InlineData("fdatasync", "EIO", "segment", 13)]
    [InlineData("fsync", "EIO", "partition directory", 2)]
    [InlineData("fdatasync", "ENOSPC", "segment", 6)]
    [InlineData("pwrite64", "EIO", "segment", 6)]
    public async Task Failed_sync_or_write_is_never_acknowledged_and_nothing_is_acknowledged_after(string call, string error, string target, int when)
    {
        int seed = TestSeed.Next();
        string context = $"seed {seed} (TOLLBOOTH_TEST_SEED), {call} fails with {error} on call {when} on the {target}";
        var journal = new ClickJournal(seed);
        using var server = new TollboothProcess(null, "--Log:Partitions", "1", "--Log:SegmentBytesMax", "1048576");
        server.Start();
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string partitionDirectory = Path.Combine(server.DataDirectory, "log", "p00");
        string path = target == "segment" ? Path.Combine(partitionDirectory, Segment0) : partitionDirectory;
        server.Wrapper.AddRange(["strace", "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-P", path, "-e", $"trace={call}", "-e", $"inject={call}:error={error}:when={when}"]);
        server.Start();

        long ticket = 0, firstFailureTicket = long.MaxValue, acknowledgedAfterFailure = 0;
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            Task[] senders = Enumerable.Range(0, 2).Select(async c =>
            {
                var random = new Random(unchecked((seed * 31) + c));
                int failures = 0;
                while (server.IsRunning && failures < 5)
                {
                    long mine = Interlocked.Increment(ref ticket);
                    if (await journal.SendAsync(client, journal.NewBatch(random, 400)))
                    {
                        if (mine > Interlocked.Read(ref firstFailureTicket))
                        {
                            Interlocked.Increment(ref acknowledgedAfterFailure);
                        }
                    }
                    else
                    {
                        failures++;

                        // Every request sent after this one (a larger ticket) must fail too.
                        long now = Interlocked.Read(ref ticket);
                        long seen;
                        while (now < (seen = Interlocked.Read(ref firstFailureTicket)) && Interlocked.CompareExchange(ref firstFailureTicket, now, seen) != seen)
                        {
                        }
                    }
                }
            }).ToArray();
            bool exited = await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(120)));
            Assert.True(exited, $"{context}: the program kept running ({journal.RequestsSent} requests, {journal.RequestsAcknowledged} acknowledged).\n{FaultChecks.Tail(server.Output)}");
            await Task.WhenAll(senders);
        }

        Assert.True(server.ExitCode == 1, $"{context}: exit code {server.ExitCode}, expected 1 (fail-stop).\n{FaultChecks.Tail(server.Output)}");
        Assert.Contains("the click log failed", server.Output);
        Assert.True(acknowledgedAfterFailure == 0, $"{context}: {acknowledgedAfterFailure} requests sent after the first failure were acknowledged.");
        long acknowledgedBefore = journal.RequestsAcknowledged;
        Assert.True(acknowledgedBefore > 0, $"{context}: nothing was acknowledged before the failure; the fault came too early to test anything.");

        server.Wrapper.Clear();
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string dump = FaultChecks.Dump(server.DataDirectory, 1);
        ClickJournal.Verdict verdict = journal.Check(dump);
        Assert.True(verdict.Problems.Count == 0, $"{context}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}");
        FaultChecks.AssertFreshReplayGivesTheSameRows(server.DataDirectory, 1, dump, context);
        output.WriteLine($"{context}: {acknowledgedBefore} requests acknowledged before it, none after, exit 1; after restart {verdict}.");
    }

    [Fact]
    public async Task Write_refused_with_enospc_answers_503_disk_full_and_the_same_process_acknowledges_the_next_requests()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        string context = $"seed {seed} (TOLLBOOTH_TEST_SEED), the 6th segment pwrite64 fails with ENOSPC";
        var journal = new ClickJournal(seed);
        using var server = new TollboothProcess(null, "--Log:Partitions", "1", "--Log:SegmentBytesMax", "1048576");
        server.Start();
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string segment = Path.Combine(server.DataDirectory, "log", "p00", Segment0);
        server.Wrapper.AddRange(["strace", "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-P", segment, "-e", "trace=pwrite64", "-e", "inject=pwrite64:error=ENOSPC:when=6"]);
        server.Start();
        var refused = new List<ClickJournal.Batch>();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            // One request at a time, so each is one group commit and one pwrite64.
            for (int i = 0; i < 12; i++)
            {
                ClickJournal.Batch batch = journal.NewBatch(random, 200);
                using HttpResponseMessage response = await client.PostClicksAsync(batch.Body);
                string body = await response.Content.ReadAsStringAsync();
                if (i == 5)
                {
                    Assert.True((int)response.StatusCode == 503 && response.Headers.RetryAfter is not null, $"{context}: request {i + 1} answered {(int)response.StatusCode} {body}");
                    Assert.Contains("\"code\":\"disk_full\"", body);
                    refused.Add(batch);
                }
                else
                {
                    Assert.True((int)response.StatusCode == 202, $"{context}: request {i + 1} answered {(int)response.StatusCode} {body}\n{FaultChecks.Tail(server.Output)}");
                    batch.Acknowledged = true;
                }
            }

            // The refused clicks were never stored: sent again, they are acknowledged and counted once.
            Assert.True(await journal.SendAsync(client, refused[0]), $"{context}: the refused batch was refused again.");
            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(1));
        }

        Assert.True(server.IsRunning, $"{context}: the program stopped.\n{FaultChecks.Tail(server.Output)}");

        // SIGTERM to tollbooth itself (strace's child); strace exits with its child's exit code.
        int child = int.Parse(File.ReadAllText($"/proc/{server.ProcessId}/task/{server.ProcessId}/children").Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.Equal(0, Sys.Kill(child, Sys.SigTerm));
        Assert.True(await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(60))), $"{context}: tollbooth did not stop on SIGTERM.");
        Assert.True(server.ExitCode == 0, $"{context}: exit code {server.ExitCode} after SIGTERM.\n{FaultChecks.Tail(server.Output)}");
        Assert.Contains("disk is full", server.Output);
        string dump = FaultChecks.Dump(server.DataDirectory, 1);
        ClickJournal.Verdict verdict = journal.Check(dump);
        Assert.True(verdict.Problems.Count == 0 && verdict.UnknownCounted + verdict.UnknownNotCounted == 0, $"{context}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}");
        FaultChecks.AssertFreshReplayGivesTheSameRows(server.DataDirectory, 1, dump, context);
        output.WriteLine($"{context}: that request got 503 disk_full, the 11 others and its resend 202 from the same process; {verdict}.");
    }

    [Fact]
    public async Task Every_202_follows_an_fdatasync_of_the_written_bytes_and_every_new_segment_a_directory_fsync()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        var journal = new ClickJournal(seed);
        using var server = new TollboothProcess(null, "--Log:Partitions", "1", "--Log:SegmentBytesMax", "1048576");
        string trace = Path.Combine(server.DataDirectory, "..", $"strace-{Guid.NewGuid():N}.txt");
        server.Wrapper.AddRange(["strace", "-f", "-qq", "--seccomp-bpf", "-yy", "-s", "16", "-o", trace, "-e", "trace=openat,pwrite64,pwritev,write,writev,fdatasync,fsync,sendto,sendmsg"]);
        server.Start();
        try
        {
            using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
            {
                // One client, one request at a time: each 202 must have its own write and fdatasync before it.
                string partitionDirectory = Path.Combine(server.DataDirectory, "log", "p00");
                while (Directory.GetFiles(partitionDirectory, "*.seg").Length < 3)
                {
                    Assert.True(await journal.SendAsync(client, journal.NewBatch(random, 300)), $"seed {seed}: a request was not acknowledged.");
                }
            }

            // SIGTERM to tollbooth itself (strace's child), so strace sees it exit and writes out its whole trace.
            int child = int.Parse(File.ReadAllText($"/proc/{server.ProcessId}/task/{server.ProcessId}/children").Split(' ')[0], CultureInfo.InvariantCulture);
            Assert.Equal(0, Sys.Kill(child, Sys.SigTerm));
            Assert.True(await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(60))), "tollbooth did not stop on SIGTERM.");
            string[] lines = File.ReadAllLines(trace);
            (int acknowledgements, int segments) = Audit(lines, seed);
            Assert.True(
                journal.RequestsAcknowledged == acknowledgements,
                $"seed {seed}: {journal.RequestsAcknowledged} requests acknowledged, {acknowledgements} 202s audited in {lines.Length} trace lines; " +
                $"lines naming HTTP/1.1: {string.Join(" | ", lines.Where(l => l.Contains("HTTP/1.1", StringComparison.Ordinal)).Take(3))}");
            Assert.True(segments >= 3, $"seed {seed}: the audit saw {segments} segments created.");
            output.WriteLine($"seed {seed}: {acknowledgements} 202s each after a write and an fdatasync of it, {segments} segment creations each followed by a directory fsync before their first write.");
        }
        finally
        {
            File.Delete(trace);
        }
    }

    /// <summary>
    /// Walks the trace in order. A call's effect counts when it returns (its own line or its "resumed" line); a
    /// 202 counts when its send starts. Returns the 202s and segment creations audited.
    /// </summary>
    private static (int Acknowledgements, int Segments) Audit(string[] lines, int seed)
    {
        var pending = new Dictionary<string, (string Call, string Path, string Line)>();
        bool dirty = false, writtenSinceAck = false, syncedSinceWrite = false;
        string? awaitingDirectorySync = null;
        int acknowledgements = 0, segments = 0;
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n];
            string where = $"seed {seed}: trace line {n + 1}: {line}";
            Match call = CallLine().Match(line);
            Match resumed = ResumedLine().Match(line);
            string pid, name, path, result;
            if (call.Success)
            {
                (pid, name, path) = (call.Groups[1].Value, call.Groups[2].Value, call.Groups[3].Value);
                if (name is "sendto" or "sendmsg" or "write" or "writev" && line.Contains("HTTP/1.1 202", StringComparison.Ordinal))
                {
                    Assert.True(writtenSinceAck && syncedSinceWrite && !dirty, $"a 202 was sent without an fdatasync after its bytes: {where}");
                    acknowledgements++;
                    writtenSinceAck = false;
                }

                if (line.EndsWith("<unfinished ...>", StringComparison.Ordinal))
                {
                    pending[pid] = (name, path, line);
                    continue;
                }

                result = call.Groups[4].Value;
            }
            else if (resumed.Success && pending.Remove(resumed.Groups[1].Value, out (string Call, string Path, string Line) started))
            {
                (name, path, result) = (started.Call, started.Path, resumed.Groups[3].Value);
                line = started.Line + " ... " + line;
            }
            else
            {
                continue;
            }

            if (name == "openat" && line.Contains("O_CREAT", StringComparison.Ordinal) && OpenedPath().Match(line) is { Success: true } opened && opened.Groups[1].Value.EndsWith(".seg", StringComparison.Ordinal))
            {
                awaitingDirectorySync = Path.GetDirectoryName(opened.Groups[1].Value);
                segments++;
            }
            else if (name == "fsync" && path == awaitingDirectorySync && result.StartsWith("0", StringComparison.Ordinal))
            {
                awaitingDirectorySync = null;
            }
            else if (name is "pwrite64" or "pwritev" && path.EndsWith(".seg", StringComparison.Ordinal))
            {
                Assert.True(awaitingDirectorySync is null, $"a new segment was written before its directory was fsynced: {where}");
                (dirty, writtenSinceAck, syncedSinceWrite) = (true, true, false);
            }
            else if (name == "fdatasync" && path.EndsWith(".seg", StringComparison.Ordinal))
            {
                Assert.True(result.StartsWith("0", StringComparison.Ordinal), $"fdatasync failed: {where}");
                (dirty, syncedSinceWrite) = (false, true);
            }
        }

        return (acknowledgements, segments);
    }

    // strace pads the pid column when pids are shorter than the widest ("2385  sendto").
    // 1234 name(5</path>, ...) = 0   or   1234 name(5</path>, ... <unfinished ...>
    [GeneratedRegex(@"^(\d+) +(\w+)\((?:\d+<([^>]*)>)?.*?(?:= (-?\d+.*)|<unfinished \.\.\.>)$")]
    private static partial Regex CallLine();

    // 1234 <... name resumed>...) = 0
    [GeneratedRegex(@"^(\d+) +<\.\.\. (\w+) resumed>.*= (-?\d+.*)$")]
    private static partial Regex ResumedLine();

    // openat(AT_FDCWD</dir>, "/path", ...) = 95</path>
    [GeneratedRegex(@"^\d+ +openat.*= \d+<([^>]*)>$")]
    private static partial Regex OpenedPath();
}

// Goal: a crash at each named instant of the write path (TOLLBOOTH_FAILPOINTS, compiled into the program)
// loses no acknowledged click and counts none twice, and the rows equal a fresh replay of the log (I1-I5).
// Method: the real `tollbooth serve` runs with one failpoint armed at a seeded hit; two clients send batches
// of clicks (each click its own ad, so a row's count is that click's count) and journal every 202, and
// resend some acknowledged batches, until the program kills itself (SIGKILL) at the failpoint. It restarts
// without failpoints, every acknowledged batch is resent (it must still count once), and after lag 0 the
// dump is checked against the journal: acknowledged exactly once, unknown outcome 0 or 1, never 2. Old-segment
// deletion (Log:RetentionHours) has its own case: it crashes while the start after a clean stop deletes the
// counted segments, and its rows are compared with a replay from the archive (the log no longer starts at 0).
// Dedup compaction is in memory only; its durable form is the snapshot, whose write has two failpoints.
// TOLLBOOTH_FAULT_SOAK=N runs N seeded cycles per failpoint instead of one.
using System.Globalization;
using Tollbooth.Log;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class FailpointTests(ITestOutputHelper output)
{
    private const int Clients = 2;
    private const int ClicksPerBatch = 100;

    [Fact]
    public Task Crash_after_write_before_fsync_loses_nothing_acknowledged() => CrashAtAsync(Failpoints.LogAfterWriteBeforeFsync, hitMax: 6);

    [Fact]
    public Task Crash_after_fsync_before_the_appends_complete_loses_nothing_acknowledged() => CrashAtAsync(Failpoints.LogAfterFsyncBeforePublish, hitMax: 6);

    [Fact]
    public Task Crash_after_fsync_before_ack_loses_nothing_acknowledged() => CrashAtAsync(Failpoints.IngestAfterDurableBeforeAck, hitMax: 8);

    [Fact]
    public Task Crash_during_segment_roll_before_the_directory_fsync_loses_nothing_acknowledged() =>
        CrashAtAsync(Failpoints.LogRollBeforeDirectoryFsync, hitMax: 2, partitions: 1, "--Log:SegmentBytesMax", "1048576");

    [Fact]
    public Task Crash_inside_the_store_commit_counts_nothing_twice() => CrashAtAsync(Failpoints.StoreInsideCommit, hitMax: 6);

    [Fact]
    public Task Crash_after_the_store_commit_before_the_dedup_snapshot_counts_nothing_twice() =>
        CrashAtAsync(Failpoints.ProcessorAfterCommitBeforeSnapshot, hitMax: 3);

    [Fact]
    public Task Crash_while_writing_the_dedup_snapshot_before_its_rename_counts_nothing_twice() => CrashAtAsync(Failpoints.DedupSnapshotBeforeRename, hitMax: 3);

    [Fact]
    public Task Crash_after_the_dedup_snapshot_rename_before_the_directory_fsync_counts_nothing_twice() =>
        CrashAtAsync(Failpoints.DedupSnapshotBeforeDirectoryFsync, hitMax: 3);

    // Compaction drops ids older than the dedup horizon once the watermark has moved an hour past the last one: event
    // time marches 2 s a click, with a lateness of 10 minutes (wide enough for the senders' interleaving) and a horizon of 15.
    [Fact]
    public Task Crash_right_after_the_dedup_index_is_compacted_counts_nothing_twice() =>
        CrashAtAsync(
            Failpoints.DedupAfterCompaction, hitMax: 4, partitions: 2, eventTimeStep: TimeSpan.FromSeconds(2),
            "--Processing:AllowedLatenessMs", "600000", "--Processing:DedupHorizonMs", "900000");

    [Fact]
    public async Task Crash_while_deleting_old_segments_loses_nothing_and_counts_nothing_twice()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        string context = $"seed {seed} (TOLLBOOTH_TEST_SEED)";
        var journal = new ClickJournal(seed);
        string[] args =
        [
            "--Log:Partitions", "1", "--Log:SegmentBytesMax", "1048576", "--Log:RetentionHours", "0",
            "--Processing:CommitIntervalMs", "5", "--Processing:DedupSnapshotEveryRecords", "50",
        ];
        using var server = new TollboothProcess(null, args);
        string partition = Path.Combine(server.DataDirectory, "log", "p00");

        // At least three closed segments, all counted; the clean stop writes the dedup snapshot at the log's end.
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            while (Directory.GetFiles(partition, "*.seg").Length < 4)
            {
                ClickJournal.Batch batch = journal.NewBatch(random, 1000);
                Assert.True(await journal.SendAsync(client, batch), $"{context}: a batch was not acknowledged ({batch.LastAnswer}).");
            }

            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        int segmentsBefore = Directory.GetFiles(partition, "*.seg").Length;
        string activeBefore = Directory.GetFiles(partition, "*.seg").Max(StringComparer.Ordinal)!;
        Assert.True(segmentsBefore >= 2, $"{context}: no closed segment left to delete after the first run.");
        int hit = 1 + random.Next(Math.Min(3, segmentsBefore - 1));
        string spec = $"{Failpoints.LogSegmentDelete}={hit}";
        context = $"{context}, {Failpoints.EnvironmentVariable}={spec}";

        // The next start releases them all and retention deletes them, oldest first: it dies at the chosen unlink.
        server.Environment[Failpoints.EnvironmentVariable] = spec;
        Task listening = server.Launch();
        bool exited = await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(120)));
        Assert.True(exited, $"{context}: the failpoint did not fire within 120 s.\n{FaultChecks.Tail(server.Output)}");
        try
        {
            await listening;
        }
        catch (InvalidOperationException)
        {
            // It died before listening: the deletion ran while the processors recovered.
        }

        Assert.True(server.Output.Contains($"failpoint {Failpoints.LogSegmentDelete} hit {hit}", StringComparison.Ordinal), $"{context}: the program died, but not at the failpoint.\n{FaultChecks.Tail(server.Output)}");
        int segmentsAtCrash = Directory.GetFiles(partition, "*.seg").Length;
        Assert.Equal(segmentsBefore - hit, segmentsAtCrash);

        server.Environment.Remove(Failpoints.EnvironmentVariable);
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            foreach (ClickJournal.Batch batch in journal.Batches.Where(b => b.Acknowledged).ToList())
            {
                Assert.True(await journal.SendAsync(client, batch), $"{context}: a resend after the restart was not acknowledged ({batch.LastAnswer}).");
            }

            Assert.True(await journal.SendAsync(client, journal.NewBatch(random, 1000)), $"{context}: a batch after the restart was not acknowledged.");
            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        // The restart finishes the deletion: every segment closed before the first run stopped goes (later ones may too).
        await Poll.UntilAsync(
            () => string.CompareOrdinal(Directory.GetFiles(partition, "*.seg").Min(StringComparer.Ordinal), activeBefore) >= 0,
            TimeSpan.FromSeconds(60),
            () => $"{context}: the restart did not finish deleting the counted segments: {string.Join(' ', Directory.GetFiles(partition, "*.seg").Select(Path.GetFileName))}.\n{FaultChecks.Tail(server.Output)}");
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string dump = FaultChecks.Dump(server.DataDirectory, 1);
        ClickJournal.Verdict verdict = journal.Check(dump);
        Assert.True(verdict.Problems.Count == 0, $"{context}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}\n{FaultChecks.Tail(server.Output)}");
        Assert.True(verdict.Clicks > 0, $"{context}: no click was sent.");

        // A fresh replay of the log is impossible now (it starts past 0): the archive rebuilds the same rows instead.
        (int code, string stdout, string stderr) = TollboothProcess.RunVerb(["replay", "--from-archive", "--data", server.DataDirectory, .. args]);
        Assert.True(code == 0, $"{context}: replay --from-archive exited {code}: {stdout}{stderr}");
        Assert.True(
            FaultChecks.HashLine(dump) == FaultChecks.HashLine(FaultChecks.Dump(server.DataDirectory, 1)),
            $"{context}: the served rows differ from the rows rebuilt from the archive.");
        output.WriteLine($"{context}: {segmentsBefore} segments, crashed after deleting {hit}; {verdict}; rows equal a replay from the archive.");
    }

    private Task CrashAtAsync(string failpoint, int hitMax, int partitions = 2, params string[] extraArgs) =>
        CrashAtAsync(failpoint, hitMax, partitions, eventTimeStep: null, extraArgs);

    private async Task CrashAtAsync(string failpoint, int hitMax, int partitions, TimeSpan? eventTimeStep, params string[] extraArgs)
    {
        int cycles = int.TryParse(Environment.GetEnvironmentVariable("TOLLBOOTH_FAULT_SOAK"), CultureInfo.InvariantCulture, out int soak) ? soak : 1;
        int firstSeed = TestSeed.Next();
        for (int cycle = 0; cycle < cycles; cycle++)
        {
            await CrashOnceAsync(failpoint, hitMax, partitions, unchecked(firstSeed + cycle), eventTimeStep, extraArgs);
        }
    }

    private async Task CrashOnceAsync(string failpoint, int hitMax, int partitions, int seed, TimeSpan? eventTimeStep, string[] extraArgs)
    {
        var random = new Random(seed);
        int hit = 1 + random.Next(hitMax);
        string spec = $"{failpoint}={hit}";
        string context = $"seed {seed} (TOLLBOOTH_TEST_SEED), {Failpoints.EnvironmentVariable}={spec}";
        var journal = new ClickJournal(seed, eventTimeStep);
        string[] args =
        [
            "--Log:Partitions", partitions.ToString(CultureInfo.InvariantCulture), "--Processing:CommitIntervalMs", "5",
            "--Processing:DedupSnapshotEveryRecords", "50", .. extraArgs,
        ];
        using var server = new TollboothProcess(null, args);
        server.Environment[Failpoints.EnvironmentVariable] = spec;
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            Task[] senders = Enumerable.Range(0, Clients)
                .Select(c => SendUntilDeadAsync(server, client, journal, new Random(unchecked((seed * 31) + c))))
                .ToArray();
            bool exited = await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(120)));
            Assert.True(exited, $"{context}: the failpoint did not fire within 120 s ({journal.RequestsSent} requests).\n{FaultChecks.Tail(server.Output)}");
            await Task.WhenAll(senders);
        }

        Assert.True(server.Output.Contains($"failpoint {failpoint} hit {hit}", StringComparison.Ordinal), $"{context}: the program died, but not at the failpoint.\n{FaultChecks.Tail(server.Output)}");
        long acknowledgedBeforeCrash = journal.RequestsAcknowledged;
        server.Environment.Remove(Failpoints.EnvironmentVariable);
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            foreach (ClickJournal.Batch batch in journal.Batches.Where(b => b.Acknowledged).ToList())
            {
                Assert.True(await journal.SendAsync(client, batch), $"{context}: a resend after the restart was not acknowledged ({batch.LastAnswer}).");
            }

            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string dump = FaultChecks.Dump(server.DataDirectory, partitions);
        ClickJournal.Verdict verdict = journal.Check(dump);
        Assert.True(verdict.Problems.Count == 0, $"{context}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}\n{FaultChecks.Tail(server.Output)}");
        Assert.True(verdict.Clicks > 0, $"{context}: no click was sent.");
        FaultChecks.AssertFreshReplayGivesTheSameRows(server.DataDirectory, partitions, dump, context, extraArgs);
        output.WriteLine($"{context}: crashed at hit {hit} after {acknowledgedBeforeCrash} acknowledged requests; {verdict}; rows equal a fresh replay.");
    }

    /// <summary>New batches (and now and then a resend of an acknowledged one) until the program has died.</summary>
    private static async Task SendUntilDeadAsync(TollboothProcess server, TollboothClient client, ClickJournal journal, Random random)
    {
        var resend = new List<ClickJournal.Batch>();
        while (server.IsRunning)
        {
            ClickJournal.Batch batch = resend.Count > 0 && random.Next(6) == 0 ? resend[random.Next(resend.Count)] : journal.NewBatch(random, ClicksPerBatch);
            if (await journal.SendAsync(client, batch))
            {
                resend.Add(batch);
            }
        }
    }
}

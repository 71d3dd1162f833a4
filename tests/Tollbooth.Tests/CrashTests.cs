// Goal: kill -9 at any moment loses nothing acknowledged and counts nothing twice (I1-I4), and the
// stored rows are exactly what a replay of the log gives (I5). Method: a child `tollbooth serve` takes
// clicks from several concurrent clients, each click journaled (ClickJournal: every click its own ad, so a
// row's count is one click's count); it is killed with SIGKILL at least 200 times (TOLLBOOTH_KILL_CYCLES
// for a soak of thousands) at seeded random moments: one cycle in four while it starts (log recovery, store
// open, processors loading checkpoints and dedup snapshots), the others while it serves, shortly after its
// first acknowledgement (ingest, 5 ms commits, archive flushes, processors catching up on the backlog the
// last kill left). Each restart resends every batch whose answer was lost and some acknowledged ones.
// After the final restart and lag 0, every click is counted exactly once (all batches end acknowledged);
// the archive holds every log position once; reconcile passes; a replay of the log gives the same rows.
// Where a cycle's time goes: the process start (runtime, JIT, store and log open) dominates; so kills
// while serving come within 250 ms of the first acknowledgement, and nothing is checked between cycles.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Clients = 4;
    private const int ClicksPerBatch = 20;
    private const int KillCyclesDefault = 200;
    private const int ServingKillDelayMsMax = 250;

    // Answers other than 202, by kind (0 no answer, -1 timeout, else the status): shown with the figures.
    private static readonly ConcurrentDictionary<int, int> s_failures = new();

    [Fact]
    public async Task Killed_server_loses_no_acknowledged_click_and_counts_none_twice()
    {
        int seed = TestSeed.Next();
        int cycles = KillCycles();
        var random = new Random(seed);
        var journal = new ClickJournal(seed);
        using var server = new TollboothProcess(null, "--Processing:CommitIntervalMs", "5", "--Log:Partitions", "4", "--Processing:DedupSnapshotEveryRecords", "100", "--Archive:FlushIntervalMs", "20");
        var pending = new ConcurrentQueue<ClickJournal.Batch>();
        var clock = Stopwatch.StartNew();
        var kills = new KillCounts();
        TimeSpan startup = TimeSpan.FromSeconds(1);
        for (int cycle = 0; cycle < cycles; cycle++)
        {
            string context = $"seed {seed}, cycle {cycle} of {cycles}";
            if (random.Next(4) == 0)
            {
                await KillWhileStartingAsync(server, random, startup, kills);
                continue;
            }

            startup = await StartAsync(server, context);
            kills.StartingTime += startup;
            await KillWhileServingAsync(server, journal, pending, seed + (cycle * 31), random, context, kills);
            kills.Serving++;
        }

        TimeSpan cycling = clock.Elapsed;
        server.Start();
        using (var final = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            while (pending.TryDequeue(out ClickJournal.Batch? batch))
            {
                Assert.True(await journal.SendAsync(final, batch), $"seed {seed}: a resent batch was not acknowledged by the final server (last answer {batch.LastAnswer}).\n{Tail(server.Output)}");
            }

            await final.WaitForLagZeroAsync(TimeSpan.FromMinutes(5));
            await AssertSampleCountsThroughTheApiAsync(final, journal, random, seed);
        }

        output.WriteLine(
            $"seed {seed}: {cycles} kill -9 cycles ({kills.Starting} while starting, {kills.JustListening} as it began listening, {kills.Serving} while serving) in {cycling.TotalSeconds:F0} s " +
            $"({cycling.TotalMilliseconds / cycles:F0} ms a cycle); {journal.RequestsAcknowledged} of {journal.RequestsSent} requests acknowledged, " +
            $"{journal.Batches.Count()} batches, {journal.Clicks} clicks; serving cycles: start to listening {kills.StartingTime.TotalMilliseconds / Math.Max(1, kills.Serving):F0} ms, " +
            $"to the first acknowledgement {kills.FirstAckTime.TotalMilliseconds / Math.Max(1, kills.Serving):F0} ms on average; answers other than 202: " +
            string.Join(", ", s_failures.OrderBy(f => f.Key).Select(f => $"{(f.Key switch { 0 => "no answer", -1 => "timeout", _ => f.Key.ToString(System.Globalization.CultureInfo.InvariantCulture) })} x{f.Value}")));
        Assert.True(journal.RequestsAcknowledged > cycles / 2, $"seed {seed}: only {journal.RequestsAcknowledged} requests were acknowledged; the test did not exercise the server.\n{Tail(server.Output)}");
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(60)));
        AssertEveryClickCountedOnce(server.DataDirectory, journal, seed);
        long archived = AssertArchiveHoldsEveryPositionOnce(server.DataDirectory, seed);
        (int reconcileCode, string reconciled, string reconcileError) = TollboothProcess.RunVerb("reconcile", "--data", server.DataDirectory, "--Log:Partitions", "4");
        Assert.True(reconcileCode == 0, $"seed {seed}: reconcile found differences:\n{Tail(reconciled)}{reconcileError}");
        output.WriteLine($"seed {seed}: archive holds {archived} clicks, each log position once; reconcile: {reconciled.Trim().Split('\n')[^1]}");
        AssertReplayGivesTheSameRows(server.DataDirectory, seed);
        output.WriteLine($"seed {seed}: done in {clock.Elapsed.TotalSeconds:F0} s");
    }

    /// <summary>200 in CI; TOLLBOOTH_KILL_CYCLES sets a soak's count.</summary>
    private static int KillCycles()
    {
        string? soak = Environment.GetEnvironmentVariable("TOLLBOOTH_KILL_CYCLES");
        return soak is null ? KillCyclesDefault : int.Parse(soak, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Starts the server and waits for it to listen; returns how long that took.</summary>
    private static async Task<TimeSpan> StartAsync(TollboothProcess server, string context)
    {
        var started = Stopwatch.StartNew();
        Task listening = server.Launch();
        if (await Task.WhenAny(listening, Task.Delay(TimeSpan.FromSeconds(90))) != listening || listening.IsFaulted)
        {
            throw new InvalidOperationException($"{context}: tollbooth did not start: {listening.Exception?.InnerException?.Message ?? "no 'listening on' within 90 s"}\n{Tail(server.Output)}");
        }

        return started.Elapsed;
    }

    /// <summary>Kills the server at a random moment of its start, which the last start's length bounds.</summary>
    private static async Task KillWhileStartingAsync(TollboothProcess server, Random random, TimeSpan startup, KillCounts kills)
    {
        Task listening = server.Launch();
        await Task.WhenAny(listening, Task.Delay(random.Next(0, (int)Math.Max(1, startup.TotalMilliseconds))));
        server.Kill();
        _ = listening.Exception; // exited before listening: expected here
        if (listening.IsCompletedSuccessfully)
        {
            kills.JustListening++;
        }
        else
        {
            kills.Starting++;
        }
    }

    /// <summary>Sends from several clients until the first acknowledgement, then kills the server within <see cref="ServingKillDelayMsMax"/>.</summary>
    private static async Task KillWhileServingAsync(TollboothProcess server, ClickJournal journal, ConcurrentQueue<ClickJournal.Batch> pending, int seed, Random random, string context, KillCounts kills)
    {
        var waited = Stopwatch.StartNew();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        using var stop = new CancellationTokenSource();
        long before = journal.RequestsAcknowledged;
        Task[] senders = Enumerable.Range(0, Clients)
            .Select(c => SendUntilStoppedAsync(client, journal, pending, new Random(seed + c), stop.Token))
            .ToArray();
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (journal.RequestsAcknowledged == before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(2);
        }

        Assert.True(journal.RequestsAcknowledged > before, $"{context}: the server acknowledged nothing in 60 s.\n{Tail(server.Output)}");
        kills.FirstAckTime += waited.Elapsed;
        await Task.Delay(random.Next(0, ServingKillDelayMsMax));
        server.Kill();
        await stop.CancelAsync();
        await Task.WhenAll(senders);
    }

    private static async Task SendUntilStoppedAsync(TollboothClient client, ClickJournal journal, ConcurrentQueue<ClickJournal.Batch> pending, Random random, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            // Retry first what earlier cycles left unanswered, then new batches; sometimes resend an acknowledged one.
            ClickJournal.Batch batch = pending.TryDequeue(out ClickJournal.Batch? retry) ? retry : journal.NewBatch(random, ClicksPerBatch);
            if (!await journal.SendAsync(client, batch))
            {
                s_failures.AddOrUpdate(batch.LastAnswer, 1, (_, n) => n + 1);
                pending.Enqueue(batch);
                if (batch.LastAnswer == 0)
                {
                    // Killed: no need to spin on refused connections until the cycle stops the senders.
                    await Task.Delay(5, CancellationToken.None);
                }

                continue;
            }

            if (random.Next(10) == 0)
            {
                pending.Enqueue(batch);
            }
        }
    }

    // Every batch was resent until acknowledged, so every click must be counted exactly once: none lost, none twice.
    private static void AssertEveryClickCountedOnce(string dataDirectory, ClickJournal journal, int seed)
    {
        (int dumpCode, string dump, string dumpError) = TollboothProcess.RunVerb("dump", "--data", dataDirectory, "--Log:Partitions", "4");
        Assert.True(dumpCode == 0, dumpError);
        ClickJournal.Verdict verdict = journal.Check(dump);
        Assert.True(verdict.Problems.Count == 0, $"seed {seed}: {verdict}:\n{string.Join("\n", verdict.Problems.Take(50))}");
        Assert.True(verdict.Acknowledged == verdict.Clicks && verdict.Clicks > 0, $"seed {seed}: {verdict}: every click should have ended acknowledged.");
    }

    // The public API agrees with the stored rows for a sample of clicks (all of them would take minutes).
    private static async Task AssertSampleCountsThroughTheApiAsync(TollboothClient client, ClickJournal journal, Random random, int seed)
    {
        List<string> ads = journal.Batches.SelectMany(b => b.Ads).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        string from = DateTimeOffset.UtcNow.AddHours(-2).ToString("O");
        string to = DateTimeOffset.UtcNow.AddHours(1).ToString("O");
        for (int i = 0; i < 20 && ads.Count > 0; i++)
        {
            string ad = ads[random.Next(ads.Count)];
            long counted = await client.CountAsync(ad, from, to);
            Assert.True(counted == 1, $"seed {seed}: the API counts click of ad {ad} {counted} times, not once.");
        }
    }

    // Every partition's archive holds positions 0 .. mark-1, each exactly once, across every kill.
    private static long AssertArchiveHoldsEveryPositionOnce(string dataDirectory, int seed)
    {
        string root = Path.Combine(dataDirectory, "archive");
        var positions = new Dictionary<int, List<long>>();
        foreach (string file in Tollbooth.Archive.ArchiveFiles.Of(root))
        {
            foreach (Tollbooth.Archive.ArchiveRecord record in Tollbooth.Archive.ArchiveFormat.Read(file))
            {
                (positions.TryGetValue(record.Partition, out List<long>? list) ? list : positions[record.Partition] = new List<long>()).Add(record.Position);
            }
        }

        long total = 0;
        for (int partition = 0; partition < 4; partition++)
        {
            long mark = Tollbooth.Archive.ParquetArchive.ReadMark(root, partition);
            List<long> held = positions.GetValueOrDefault(partition) ?? [];
            held.Sort();
            Assert.True(held.SequenceEqual(Enumerable.Range(0, (int)mark).Select(p => (long)p)),
                $"seed {seed}: partition {partition}'s archive holds {held.Count} positions ({held.Distinct().Count()} distinct) for a mark of {mark}.");
            total += mark;
        }

        Assert.True(total > 0, $"seed {seed}: nothing was archived.");
        return total;
    }

    private static void AssertReplayGivesTheSameRows(string dataDirectory, int seed)
    {
        string[] data = ["--data", dataDirectory, "--Log:Partitions", "4"];
        (int dumpCode, string before, string dumpError) = TollboothProcess.RunVerb(["dump", .. data]);
        Assert.True(dumpCode == 0, dumpError);
        (int replayCode, string replayOutput, string replayError) = TollboothProcess.RunVerb(["replay", .. data]);
        Assert.True(replayCode == 0, replayOutput + replayError);
        (int _, string after, string _) = TollboothProcess.RunVerb(["dump", .. data]);
        Assert.True(before == after, $"seed {seed}: rows after replay differ from rows before.\nbefore:\n{Tail(before)}\nafter:\n{Tail(after)}");
        Assert.Contains("rows ", before);
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private sealed class KillCounts
    {
        public int Starting { get; set; }

        public int Serving { get; set; }

        /// <summary>Kills meant for the start that came just after it began listening, before any request.</summary>
        public int JustListening { get; set; }

        public TimeSpan StartingTime { get; set; }

        public TimeSpan FirstAckTime { get; set; }
    }
}

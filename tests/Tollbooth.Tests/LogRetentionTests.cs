// Goal: with Log:RetentionHours the click log deletes the segments nothing needs any more, and counting stays
// exact through it: every acknowledged click counted exactly once across a clean stop, the deletion, a kill -9 and
// a start on the trimmed log, resends of old clicks still recognised as duplicates; `tollbooth replay` (which needs
// the log from position 0) refuses in one sentence and leaves the store alone, and the archive rebuilds the very
// same rows. Method: the real program over loopback with 1 MiB segments, retention 0 (delete as soon as nothing
// needs a segment) and one partition; the journal of the fault tests is the oracle.
using System.Globalization;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class LogRetentionTests(ITestOutputHelper output)
{
    private const int ClicksPerBatch = 1000;

    private static readonly string[] s_settings =
    [
        "--Log:Partitions", "1", "--Log:SegmentBytesMax", "1048576", "--Log:RetentionHours", "0",
        "--Processing:CommitIntervalMs", "5", "--Processing:DedupSnapshotEveryRecords", "50",
    ];

    [Fact]
    public async Task Counted_segments_are_deleted_and_every_click_is_still_counted_exactly_once_across_restarts()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        var journal = new ClickJournal(seed);
        using var server = new TollboothProcess(null, s_settings);
        string partition = Path.Combine(server.DataDirectory, "log", "p00");
        string[] data = ["--data", server.DataDirectory, .. s_settings];

        // Clicks over several segments; a clean stop writes the dedup snapshot at the end of the log.
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            while (Segments(partition).Length < 4)
            {
                ClickJournal.Batch batch = journal.NewBatch(random, ClicksPerBatch);
                Assert.True(await journal.SendAsync(client, batch), $"seed {seed}: a batch was not acknowledged ({batch.LastAnswer}).");
            }

            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        string[] before = Segments(partition);
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));

        // The start releases everything below the snapshot: every closed segment goes, the active one stays.
        server.Start();
        await Poll.UntilAsync(() => Segments(partition).Length == 1, TimeSpan.FromSeconds(60), () => $"seed {seed}: segments left {string.Join(' ', Segments(partition).Select(Path.GetFileName))}\n{FaultChecks.Tail(server.Output)}");
        Assert.Equal(Path.GetFileName(before[^1]), Path.GetFileName(Segments(partition).Single()));
        Assert.NotEqual("00000000000000000000.seg", Path.GetFileName(Segments(partition).Single()));
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            // Old clicks again (their segments are gone; the dedup snapshot remembers them), and new ones.
            await ResendSomeAsync(client, journal, random, seed);
            for (int i = 0; i < 3; i++)
            {
                Assert.True(await journal.SendAsync(client, journal.NewBatch(random, ClicksPerBatch)), $"seed {seed}: a batch was not acknowledged.");
            }

            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        // kill -9, then a start on the trimmed log: recovery begins at the first segment left.
        server.Kill();
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            await ResendSomeAsync(client, journal, random, seed);
            Assert.True(await journal.SendAsync(client, journal.NewBatch(random, ClicksPerBatch)), $"seed {seed}: a batch was not acknowledged.");
            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string served = FaultChecks.Dump(server.DataDirectory, 1);
        ClickJournal.Verdict verdict = journal.Check(served);
        Assert.True(verdict.Problems.Count == 0, $"seed {seed}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}");
        Assert.Equal(verdict.Clicks, verdict.Acknowledged);

        // Replay from the log cannot give these rows back: it says so in one sentence and changes nothing.
        (int code, string stdout, string stderr) = TollboothProcess.RunVerb(["replay", .. data]);
        long first = long.Parse(Path.GetFileNameWithoutExtension(Segments(partition)[0]), CultureInfo.InvariantCulture);
        Assert.True(code == 1, $"seed {seed}: replay exited {code}: {stdout}{stderr}");
        Assert.Equal(
            $"error: the log starts at position {first} of partition 0 (older segments were deleted by Log:RetentionHours); " +
            "rebuild with `tollbooth replay --from-archive`. The store is unchanged.",
            stderr.Trim());
        Assert.True(served == FaultChecks.Dump(server.DataDirectory, 1), $"seed {seed}: a refused replay changed the store.");

        // The archive rebuilds the same rows, byte for byte; reconcile still brings everything up and agrees.
        (code, stdout, stderr) = TollboothProcess.RunVerb(["replay", "--from-archive", .. data]);
        Assert.True(code == 0, $"seed {seed}: {stdout}{stderr}");
        Assert.True(served == FaultChecks.Dump(server.DataDirectory, 1), $"seed {seed}: the store rebuilt from the archive differs from the served one.");
        (code, stdout, stderr) = TollboothProcess.RunVerb(["reconcile", .. data]);
        Assert.True(code == 0, $"seed {seed}: reconcile exited {code}: {stdout}{stderr}");
        output.WriteLine($"seed {seed}: {before.Length} segments before, first position now {first}; {verdict}.");
    }

    [Fact]
    public void A_retention_below_minus_one_hour_is_refused_at_start_saying_what_to_use()
    {
        (int code, string stdout, string stderr) = TollboothProcess.RunVerb("settings", "--Log:RetentionHours", "-2");
        Assert.True(code == 2, stdout + stderr);
        Assert.Equal(
            "error: Log:RetentionHours must be -1 (keep every segment), 0 (delete as soon as nothing needs it) or hours up to 1000000.",
            stderr.Trim());
        (code, stdout, stderr) = TollboothProcess.RunVerb("settings", "--Log:RetentionHours", "-1");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("\"RetentionHours\": -1", stdout);
    }

    private static string[] Segments(string partition)
    {
        string[] files = Directory.GetFiles(partition, "*.seg");
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    /// <summary>Resends up to five acknowledged batches: each must be acknowledged again and still count once.</summary>
    private static async Task ResendSomeAsync(TollboothClient client, ClickJournal journal, Random random, int seed)
    {
        List<ClickJournal.Batch> acknowledged = journal.Batches.Where(b => b.Acknowledged).OrderBy(b => b.Ads[0], StringComparer.Ordinal).ToList();
        for (int i = 0; i < 5; i++)
        {
            ClickJournal.Batch batch = acknowledged[random.Next(acknowledged.Count)];
            Assert.True(await journal.SendAsync(client, batch), $"seed {seed}: a resend was not acknowledged ({batch.LastAnswer}).");
        }
    }
}

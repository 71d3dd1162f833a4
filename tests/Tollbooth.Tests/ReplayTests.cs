// Goal: the stored rows are a pure function of the log (I5): `tollbooth replay` rebuilds them row for
// row, whatever the commit timing. Method: a server takes a workload with duplicates, bots, late and
// too-late clicks; after lag 0 and SIGTERM the rows are dumped; then replayed twice with very different
// commit settings, twice more with the wall clock moved (faketime), and once in another time zone and
// culture (TZ, LANG); every dump (rows, changes feed, checkpoints) must be identical, and SIGTERM must exit 0.
using System.Net;
using System.Text;

namespace Tollbooth.Tests;

public sealed class ReplayTests
{
    [Fact]
    public async Task Replay_rebuilds_identical_rows_whatever_the_commit_timing()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        using var server = new TollboothProcess(null, "--Log:Partitions", "3", "--Processing:AllowedLatenessMs", "600000", "--Processing:DedupHorizonMs", "600000");
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        DateTimeOffset start = DateTimeOffset.UtcNow.AddHours(-2);
        for (int batch = 0; batch < 30; batch++)
        {
            using HttpResponseMessage response = await client.PostClicksAsync(Batch(random, start, batch, 100), "application/x-ndjson");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));

        string[] data = ["--data", server.DataDirectory, "--Log:Partitions", "3", "--Processing:AllowedLatenessMs", "600000", "--Processing:DedupHorizonMs", "600000"];
        string served = FaultChecks.Dump(data);
        Assert.Equal(0, TollboothProcess.RunVerb(["replay", .. data, "--Processing:CommitIntervalMs", "1", "--Processing:CommitEventsMax", "7"]).ExitCode);
        string replayedInSmallCommits = FaultChecks.Dump(data);
        Assert.Equal(0, TollboothProcess.RunVerb(["replay", .. data]).ExitCode);
        string replayedDefault = FaultChecks.Dump(data);
        Assert.True(served == replayedInSmallCommits, $"seed {seed}: replay with tiny commits differs from the served rows.");
        Assert.True(served == replayedDefault, $"seed {seed}: replay differs from the served rows.");

        // The wall clock moved by 400 days and back by 3 years: rows and feed depend on the log alone (I5).
        foreach (string offset in new[] { "+400d", "-3y" })
        {
            (int code, string _, string error) = TollboothProcess.RunVerbWithClockOffset(offset, ["replay", .. data, "--Processing:CommitEventsMax", "13"]);
            Assert.True(code == 0, error);
            Assert.True(served == FaultChecks.Dump(data), $"seed {seed}: replay with the wall clock at {offset} differs from the served rows.");
        }

        // Another time zone (UTC+12:45/+13:45, with daylight saving) and the Turkish culture (dotted and dotless i,
        // comma decimals): nothing a count depends on may be read in local time or the current culture.
        var elsewhere = new Dictionary<string, string> { ["TZ"] = "Pacific/Chatham", ["LANG"] = "tr_TR.UTF-8", ["LC_ALL"] = "tr_TR.UTF-8" };
        (int elsewhereCode, string _, string elsewhereError) = TollboothProcess.RunVerbWithEnvironment(elsewhere, ["replay", .. data, "--Processing:CommitEventsMax", "17"]);
        Assert.True(elsewhereCode == 0, elsewhereError);
        Assert.True(served == FaultChecks.Dump(data), $"seed {seed}: replay under TZ=Pacific/Chatham and LANG=tr_TR.UTF-8 differs from the served rows.");

        Assert.Contains("\tbot-ad\t", served);
    }

    // Clicks walk forward in event time with some out of order, late (minutes behind) and too late
    // (beyond the 10-minute lateness), some resent, some from a bot.
    private static string Batch(Random random, DateTimeOffset start, int batch, int size)
    {
        var body = new StringBuilder();
        for (int i = 0; i < size; i++)
        {
            long ms = start.AddSeconds((batch * 60) + random.Next(60)).ToUnixTimeMilliseconds();
            int kind = random.Next(20);
            if (kind == 0)
            {
                ms -= 5 * 60_000;
            }
            else if (kind == 1)
            {
                ms -= 30 * 60_000;
            }

            string id = kind == 2 && batch > 0 ? $"b{batch - 1}-{random.Next(size)}" : $"b{batch}-{i}";
            string ad = kind == 3 ? "bot-ad" : $"ad{random.Next(7)}";
            string agent = kind == 3 ? "Mozilla/5.0 (compatible; Googlebot/2.1)" : "Mozilla/5.0";
            body.Append($"{{\"click_id\":\"{id}\",\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv{random.Next(2)}\",\"user_id\":\"u{random.Next(50)}\",\"country\":\"{(random.Next(2) == 0 ? "US" : "FR")}\",\"device\":\"mobile\",\"user_agent\":\"{agent}\",\"timestamp\":{ms},\"cost_micros\":{random.Next(5000)}}}\n");
        }

        return body.ToString();
    }
}

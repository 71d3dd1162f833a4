// Goal: the raw archive alone rebuilds the store (`replay --from-archive`): the same rows, changes feed and
// checkpoints, byte for byte, even after a user's erasure and with the log out of reach; each window names
// the rule set version that decided its clicks, through a change of rules and replays; reconciliation
// reports too-late clicks per window. Method: the real program over loopback; dumps compared as text; the
// log directory moved away during the archive replay so it cannot be read.
using System.Net;
using System.Text;
using System.Text.Json;
using Tollbooth.Archive;
using Tollbooth.Core;

namespace Tollbooth.Tests;

public sealed class ArchiveReplayTests
{
    private static readonly string[] s_settings =
        ["--Log:Partitions", "2", "--Processing:AllowedLatenessMs", "600000", "--Processing:DedupHorizonMs", "600000", "--Rules:UserClicksPerAdPerMinuteMax", "3"];

    [Fact]
    public async Task Replay_from_the_archive_gives_the_served_dump_byte_for_byte_after_an_erasure_without_reading_the_log()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        using var server = new TollboothProcess(null, [.. s_settings, "--Archive:FlushIntervalMs", "20"]);
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        DateTimeOffset start = DateTimeOffset.UtcNow.AddHours(-2);
        for (int batch = 0; batch < 20; batch++)
        {
            using HttpResponseMessage response = await client.PostClicksAsync(Batch(random, start, batch, 100), "application/x-ndjson");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        using (HttpResponseMessage erased = await client.SendAsync(HttpMethod.Delete, "/v1/users/u7"))
        {
            Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string[] data = ["--data", server.DataDirectory, .. s_settings];
        string served = FaultChecks.Dump(data);

        // The workload reached every verdict, and the erasure left valid clicks without their user.
        string root = Path.Combine(server.DataDirectory, "archive");
        List<ArchiveRecord> records = ArchiveFiles.Of(root).SelectMany(ArchiveFormat.Read).ToList();
        Assert.True(
            new[] { "valid", "duplicate", "invalid:bot", "invalid:rate", "too_late" }.All(v => records.Any(r => r.Outcome.ToWire() == v)),
            $"seed {seed}: verdicts archived: {string.Join(' ', records.Select(r => r.Outcome.ToWire()).Distinct())}");
        Assert.Contains(records, r => r.Erased && r.Outcome.Verdict == Verdict.Valid && r.Click.UserId.Length == 0);
        Assert.DoesNotContain(records, r => r.Click.UserId == "u7");
        Assert.Contains("\t" + RuleSet.VersionOf(new AggregatorOptions { UserClicksPerAdPerMinuteMax = 3 }) + "\n", served);

        // The log moved out of reach: the archive alone must give every row, change and checkpoint.
        string log = Path.Combine(server.DataDirectory, "log");
        Directory.Move(log, log + ".away");
        (int code, string output, string error) = TollboothProcess.RunVerb(["replay", "--from-archive", .. data]);
        Assert.True(code == 0, output + error);
        string rebuilt = FaultChecks.Dump(data);
        Directory.Delete(log, recursive: true);
        Directory.Move(log + ".away", log);
        Assert.True(served == rebuilt, $"seed {seed}: the store rebuilt from the archive differs from the served one:\n{FirstDifference(served, rebuilt)}");

        // The unique users of windows with erased clicks reconcile too.
        (code, output, error) = TollboothProcess.RunVerb(["reconcile", .. data]);
        Assert.True(code == 0, $"seed {seed}: {output}{error}");

        // An archive missing positions (an hour deleted) refuses, and the store stays as it was.
        Directory.Delete(Path.GetDirectoryName(ArchiveFiles.Of(root).First())!, recursive: true);
        (code, output, error) = TollboothProcess.RunVerb(["replay", "--from-archive", .. data]);
        Assert.True(code == 1, output + error);
        Assert.Contains("the archive lacks positions", error);
        Assert.Contains("The store is unchanged.", error);
        Assert.True(served == FaultChecks.Dump(data), $"seed {seed}: a refused archive replay changed the store.");
    }

    [Fact]
    public async Task Each_window_names_the_rule_set_that_decided_it_through_a_rule_change_and_both_replays()
    {
        string[] before = ["--Log:Partitions", "1", "--Rules:UserClicksPerAdPerMinuteMax", "5"];
        string[] after = ["--Log:Partitions", "1", "--Rules:UserClicksPerAdPerMinuteMax", "2"];
        string versionBefore = RuleSet.VersionOf(new AggregatorOptions { UserClicksPerAdPerMinuteMax = 5 });
        string versionAfter = RuleSet.VersionOf(new AggregatorOptions { UserClicksPerAdPerMinuteMax = 2 });
        DateTimeOffset now = DateTimeOffset.UtcNow;
        string first = now.AddMinutes(-5).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string second = now.AddMinutes(-3).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string from = now.AddMinutes(-10).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string to = now.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string Clicks(string minute, params string[] ids) => string.Join('\n', ids.Select(id =>
            JsonSerializer.Serialize(new { click_id = id, ad_id = "ad-rv", advertiser_id = "adv-rv", user_id = "same", timestamp = minute, cost_micros = 10 })));

        using var server = new TollboothProcess(null, [.. before, "--Archive:FlushIntervalMs", "20"]);
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            using (HttpResponseMessage response = await client.PostClicksAsync(Clicks(first, "v1", "v2", "v3"), "application/x-ndjson"))
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            await client.WaitForLagZeroAsync();
            Assert.Equal([$"{first} [{versionBefore}]"], await RuleVersionsAsync(client, from, to));
            using HttpResponseMessage dryRun = await client.SendAsync(
                HttpMethod.Post, "/v1/rules/dry-run", $"{{\"rules\": {{\"user_clicks_per_ad_per_minute_max\": 2}}, \"from\": \"{from}\", \"to\": \"{to}\"}}");
            JsonElement answer = await TollboothClient.JsonOf(dryRun);
            Assert.True(dryRun.StatusCode == HttpStatusCode.OK, answer.ToString());
            Assert.Equal(
                (versionBefore, versionAfter),
                (answer.GetProperty("rule_version_in_force").GetString(), answer.GetProperty("rules").GetProperty("rule_version").GetString()));
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));

        // Restarted under a stricter rate limit: new windows are decided, and named, by the new rules.
        using var restarted = new TollboothProcess(server.DataDirectory, [.. after, "--Archive:FlushIntervalMs", "20"]);
        restarted.Start();
        using (var client = new TollboothClient(restarted.BaseAddress, TollboothProcess.AdminKey))
        {
            using (HttpResponseMessage response = await client.PostClicksAsync(Clicks(second, "v4", "v5", "v6"), "application/x-ndjson"))
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            await client.WaitForLagZeroAsync();
            Assert.Equal([$"{first} [{versionBefore}]", $"{second} [{versionAfter}]"], await RuleVersionsAsync(client, from, to));
            Assert.Equal(5, await client.CountAsync("ad-rv", from, to));

            // The changes feed names it too: the first window closed once the second minute's clicks moved the
            // watermark past it, and the rules that decided it were the old ones.
            Assert.Equal(versionBefore, await ChangedRuleVersionAsync(client, first));
        }

        Assert.Equal(0, restarted.Terminate(TimeSpan.FromSeconds(30)));
        string[] data = ["--data", server.DataDirectory, .. after];
        string served = FaultChecks.Dump(data);
        (int code, string output, string error) = TollboothProcess.RunVerb(["reconcile", .. data]);
        Assert.True(code == 0, output + error);

        // A replay from the log decides every click again under the rules in force now; the archive keeps the
        // verdicts as they were first decided, so reconcile names the window whose rules changed.
        Assert.Equal(0, TollboothProcess.RunVerb(["replay", .. data]).ExitCode);
        (code, output, error) = TollboothProcess.RunVerb(["reconcile", .. data]);
        Assert.True(code == 1, output + error);
        Assert.Contains($"\trule_version\tstored={versionAfter}\trecomputed={versionBefore}", output);
        Assert.Contains("\tclicks\tstored=2\trecomputed=3", output);

        // The archive gives back the rows as the rules then in force decided them.
        Assert.Equal(0, TollboothProcess.RunVerb(["replay", "--from-archive", .. data]).ExitCode);
        Assert.True(served == FaultChecks.Dump(data), FirstDifference(served, FaultChecks.Dump(data)));
    }

    [Fact]
    public async Task Reconciliation_reports_too_late_clicks_per_window()
    {
        using var server = new TollboothProcess(null, "--Log:Partitions", "1", "--Processing:AllowedLatenessMs", "60000", "--Archive:FlushIntervalMs", "20");
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        DateTimeOffset minute = DateTimeOffset.FromUnixTimeSeconds((DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds() / 60) * 60);
        string Click(string id, DateTimeOffset at) =>
            JsonSerializer.Serialize(new { click_id = id, ad_id = "ad-tl", advertiser_id = "adv-tl", timestamp = at.ToUnixTimeMilliseconds(), cost_micros = 3 });

        // The second click moves the watermark 5 minutes on: the two after it are beyond the minute of lateness.
        string body = string.Join('\n',
            Click("t1", minute.AddSeconds(5)), Click("t2", minute.AddMinutes(5)), Click("t3", minute.AddSeconds(10)), Click("t4", minute.AddSeconds(20)));
        using (HttpResponseMessage response = await client.PostClicksAsync(body, "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        string start = minute.ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string from = minute.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string to = minute.AddMinutes(10).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        JsonElement audit;
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            HttpStatusCode status;
            (status, audit) = await client.GetAsync($"/v1/reconcile?ad_id=ad-tl&from={from}&to={to}");
            Assert.True(status == HttpStatusCode.OK, audit.ToString());
        }
        while (!audit.GetProperty("complete").GetBoolean() && DateTime.UtcNow < deadline);

        Assert.Equal(
            [$"{start} matched too_late=2", $"{minute.AddMinutes(5):yyyy-MM-dd'T'HH:mm:00'Z'} matched too_late=0"],
            audit.GetProperty("windows").EnumerateArray().Select(w => $"{w.GetProperty("start").GetString()} {w.GetProperty("result").GetString()} too_late={w.GetProperty("too_late").GetInt64()}"));
        Assert.Equal(2, audit.GetProperty("summary").GetProperty("too_late").GetInt64());
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));

        (int code, string output, string error) = TollboothProcess.RunVerb(
            "reconcile", "--data", server.DataDirectory, "--Log:Partitions", "1", "--Processing:AllowedLatenessMs", "60000");
        Assert.True(code == 0, output + error);
        string line = Assert.Single(output.Split('\n'), l => l.StartsWith("too_late\t", StringComparison.Ordinal));
        Assert.StartsWith($"too_late\tp0\t{start}\tad=ad-tl advertiser=adv-tl ", line);
        Assert.EndsWith("\t2", line);
        Assert.Contains("(too late 2)", output);
    }

    private static async Task<List<string>> RuleVersionsAsync(TollboothClient client, string from, string to)
    {
        (HttpStatusCode status, JsonElement body) = await client.GetAsync($"/v1/aggregates?ad_id=ad-rv&start={from}&end={to}&granularity=minute&detail=true");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("windows").EnumerateArray()
            .Select(w => $"{w.GetProperty("start").GetString()} [{string.Join(',', w.GetProperty("rule_versions").EnumerateArray().Select(v => v.GetString()))}]")
            .ToList();
    }

    // The rule_version of the first change to ad-rv's window at `start` in GET /v1/changes, polled until it appears.
    private static async Task<string?> ChangedRuleVersionAsync(TollboothClient client, string start)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            (HttpStatusCode status, JsonElement body) = await client.GetAsync("/v1/changes?limit=1000");
            Assert.True(status == HttpStatusCode.OK, body.ToString());
            foreach (JsonElement change in body.GetProperty("changes").EnumerateArray())
            {
                if (change.GetProperty("ad_id").GetString() == "ad-rv" && change.GetProperty("start").GetString() == start)
                {
                    return change.GetProperty("rule_version").GetString();
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"No change to ad-rv's window at {start} within 30 s: {body}");
            await Task.Delay(50);
        }
    }

    private static string FirstDifference(string expected, string actual)
    {
        string[] a = expected.Split('\n'), b = actual.Split('\n');
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            string left = i < a.Length ? a[i] : "(none)", right = i < b.Length ? b[i] : "(none)";
            if (left != right)
            {
                return $"line {i + 1}:\n  before: {left}\n  after:  {right}";
            }
        }

        return "(same)";
    }

    // Clicks walk forward in event time with some late (minutes behind), too late (beyond the 10-minute
    // lateness), resent, from a bot, or from a busy user over the rate limit; u7 is erased later.
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
            string agent = kind == 3 ? "Mozilla/5.0 (compatible; Googlebot/2.1)" : "Mozilla/5.0";
            string user = kind == 4 ? "busy" : $"u{random.Next(12)}";
            body.Append($"{{\"click_id\":\"{id}\",\"ad_id\":\"ad{random.Next(4)}\",\"advertiser_id\":\"adv{random.Next(2)}\",\"user_id\":\"{user}\",\"ip\":\"192.0.2.{random.Next(200)}\",\"country\":\"{(random.Next(2) == 0 ? "US" : "FR")}\",\"device\":\"mobile\",\"user_agent\":\"{agent}\",\"timestamp\":{ms},\"cost_micros\":{random.Next(5000)}}}\n");
        }

        return body.ToString();
    }
}

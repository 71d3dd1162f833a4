// Goal: the raw archive keeps every click with its verdict, and `tollbooth reconcile` proves the stored
// rows are what the archive gives (I6), reporting every window it cannot explain with exit code 1.
// Method: the real program, a handful of clicks covering each verdict; the archive's Parquet files are read
// back directly; then one archive file is deleted and reconcile must say so.
using System.Net;
using System.Text.Json;
using Tollbooth.Archive;

namespace Tollbooth.Tests;

public sealed class ArchiveTests
{
    [Fact]
    public async Task Every_click_is_archived_with_its_verdict_and_reconcile_reports_what_the_archive_does_not_explain()
    {
        using var server = new TollboothProcess(null, "--Log:Partitions", "1", "--Rules:UserClicksPerAdPerMinuteMax", "2", "--Archive:FlushIntervalMs", "20");
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        string minute = DateTimeOffset.UtcNow.AddMinutes(-2).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string Click(string id, string user, string agent = "Mozilla/5.0") =>
            JsonSerializer.Serialize(new { click_id = id, ad_id = "ad-arch", advertiser_id = "adv-arch", user_id = user, user_agent = agent, timestamp = minute, cost_micros = 7 });
        string body = string.Join('\n', Click("a1", "u1"), Click("a1", "u1"), Click("a2", "u2", "Googlebot/2.1"), Click("a3", "u3"), Click("a4", "u3"), Click("a5", "u3"));
        using (HttpResponseMessage response = await client.PostClicksAsync(body, "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));

        string root = Path.Combine(server.DataDirectory, "archive");
        List<ArchiveRecord> records = ArchiveFiles.Of(root).SelectMany(ArchiveFormat.Read).OrderBy(r => r.Position).ToList();
        Assert.Equal(
            ["a1 valid", "a1 duplicate", "a2 invalid:bot", "a3 valid", "a4 valid", "a5 invalid:rate"],
            records.Select(r => $"{r.Click.ClickId} {r.Outcome.ToWire()}"));
        Assert.Equal(Enumerable.Range(0, 6).Select(p => (long)p), records.Select(r => r.Position));

        string[] data = ["--data", server.DataDirectory, "--Log:Partitions", "1", "--Rules:UserClicksPerAdPerMinuteMax", "2"];
        (int code, string output, string error) = TollboothProcess.RunVerb(["reconcile", .. data]);
        Assert.True(code == 0, output + error);
        Assert.Contains("windows 1, matched 1, differing 0; archived clicks read 6", output);

        (code, output, _) = TollboothProcess.RunVerb(["reconcile", .. data, "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z"]);
        Assert.True(code == 0, output);
        Assert.Contains("windows 0,", output);

        foreach (string file in ArchiveFiles.Of(root))
        {
            File.Delete(file);
        }

        (code, output, error) = TollboothProcess.RunVerb(["reconcile", .. data]);
        Assert.True(code == 1, $"reconcile exited {code} with the archive gone: {output}{error}");
        Assert.Contains("differs\tp0\t", output);
        Assert.Contains("\twindow\tstored=present\trecomputed=missing", output);
    }

    [Fact]
    public async Task User_and_ip_filters_are_answered_from_the_raw_archive()
    {
        using var server = new TollboothProcess(null, "--Log:Partitions", "2", "--Archive:FlushIntervalMs", "20");
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        string minute = DateTimeOffset.UtcNow.AddMinutes(-3).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string Click(string id, string ad, string user, string ip) =>
            JsonSerializer.Serialize(new { click_id = id, ad_id = ad, advertiser_id = "adv-raw", campaign_id = "camp-raw", user_id = user, ip, timestamp = minute, cost_micros = 100 });
        string body = string.Join('\n',
            Click("r1", "ad-raw-1", "alice", "203.0.113.7"),
            Click("r2", "ad-raw-1", "alice", "203.0.113.7"),
            Click("r3", "ad-raw-1", "bob", "2001:db8::1"),
            Click("r4", "ad-raw-2", "alice", "2001:db8::1"),
            Click("r1", "ad-raw-1", "alice", "203.0.113.7")); // a duplicate: never a valid click
        using (HttpResponseMessage response = await client.PostClicksAsync(body, "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        string to = DateTimeOffset.UtcNow.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string from = DateTimeOffset.UtcNow.AddMinutes(-10).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");

        // The archive is written a moment after the rows: poll until alice's clicks are there.
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        long alice;
        while ((alice = await client.CountAsync("ad-raw-1", from, to, "&user_id=alice")) != 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(2, alice);
        Assert.Equal(1, await client.CountAsync("ad-raw-1", from, to, "&user_id=bob"));
        Assert.Equal(1, await client.CountAsync("ad-raw-1", from, to, "&ip=2001:db8:0:0::1"));
        Assert.Equal(0, await client.CountAsync("ad-raw-1", from, to, "&ip=198.51.100.1"));
        Assert.Equal(3, await client.CountAsync("ad-raw-1", from, to));

        (HttpStatusCode status, JsonElement windows) = await client.GetAsync($"/v1/aggregates?campaign_id=camp-raw&start={from}&end={to}&granularity=day&user_id=alice&detail=true");
        Assert.True(status == HttpStatusCode.OK, windows.ToString());
        JsonElement day = Assert.Single(windows.GetProperty("windows").EnumerateArray());
        Assert.Equal((3L, 4L, 1L), (day.GetProperty("clicks").GetInt64(), day.GetProperty("received").GetInt64(), day.GetProperty("duplicate_clicks").GetInt64()));
        Assert.Equal(1, day.GetProperty("unique_users").GetInt64());

        (status, JsonElement top) = await client.GetAsync($"/v1/ads/popular_ads?count=5&window=60&to={to}&ip=2001:db8::1");
        Assert.True(status == HttpStatusCode.OK, top.ToString());
        Assert.Equal(["ad-raw-1 1", "ad-raw-2 1"], top.GetProperty("ads").EnumerateArray().Select(a => $"{a.GetProperty("ad_id").GetString()} {a.GetProperty("count").GetInt64()}"));

        using (HttpResponseMessage saved = await client.SendAsync(HttpMethod.Post, "/v1/filters", "{\"ip\": \"203.0.113.7\"}"))
        {
            string filterId = (await TollboothClient.JsonOf(saved)).GetProperty("filter_id").GetString()!;
            Assert.Equal(2, await client.CountAsync("ad-raw-1", from, to, "&filter=" + filterId));
        }

        (status, JsonElement bad) = await client.GetAsync($"/v1/ads/ad-raw-1/aggregated_count?from={from}&to={to}&ip=not-an-ip");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_ip", bad.GetProperty("code").GetString());

        // The same audit over HTTP, for the campaign's owner: every window matched once the archive caught up.
        string owner = await client.CreateKeyAsync("advertiser", "adv-raw");
        JsonElement audit;
        deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            (status, audit) = await client.GetAsync($"/v1/reconcile?campaign_id=camp-raw&from={from}&to={to}", owner);
            Assert.True(status == HttpStatusCode.OK, audit.ToString());
        }
        while (!audit.GetProperty("complete").GetBoolean() && DateTime.UtcNow < deadline);

        Assert.True(audit.GetProperty("complete").GetBoolean(), audit.ToString());
        Assert.Equal((2, 2, 0, 0), (
            audit.GetProperty("summary").GetProperty("windows").GetInt32(), audit.GetProperty("summary").GetProperty("matched").GetInt32(),
            audit.GetProperty("summary").GetProperty("differs").GetInt32(), audit.GetProperty("summary").GetProperty("missing").GetInt32()));
        Assert.All(audit.GetProperty("windows").EnumerateArray(), w => Assert.Equal("matched", w.GetProperty("result").GetString()));
    }

    [Fact]
    public async Task Erasing_a_user_removes_them_from_the_raw_archive_and_retention_deletes_old_hours()
    {
        using var server = new TollboothProcess(null, "--Log:Partitions", "1", "--Archive:FlushIntervalMs", "20", "--Archive:RawRetentionDays", "30");
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        string minute = DateTimeOffset.UtcNow.AddMinutes(-2).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string longAgo = DateTimeOffset.UtcNow.AddDays(-40).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string Click(string id, string user, string timestamp) =>
            JsonSerializer.Serialize(new { click_id = id, ad_id = "ad-gdpr", advertiser_id = "adv-gdpr", user_id = user, ip = "192.0.2.44", timestamp, cost_micros = 5 });
        string body = string.Join('\n', Click("g1", "carol", minute), Click("g2", "carol", minute), Click("g3", "dave", minute), Click("g0", "erin", longAgo));
        using (HttpResponseMessage response = await client.PostClicksAsync(body, "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        string from = DateTimeOffset.UtcNow.AddMinutes(-10).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string to = DateTimeOffset.UtcNow.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (await client.CountAsync("ad-gdpr", from, to, "&user_id=carol") != 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        using (HttpResponseMessage erased = await client.SendAsync(HttpMethod.Delete, "/v1/users/carol"))
        {
            JsonElement answer = await TollboothClient.JsonOf(erased);
            Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
            Assert.Equal(2, answer.GetProperty("erased_events").GetInt64());
        }

        // A click of hers that arrives after the erasure is archived erased too.
        using (HttpResponseMessage response = await client.PostClicksAsync(Click("g4", "carol", minute)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        Assert.Equal(0, await client.CountAsync("ad-gdpr", from, to, "&user_id=carol"));
        Assert.Equal(1, await client.CountAsync("ad-gdpr", from, to, "&user_id=dave"));
        Assert.Equal(4, await client.CountAsync("ad-gdpr", from, to)); // the aggregates stay as they were
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));

        string root = Path.Combine(server.DataDirectory, "archive");
        List<ArchiveRecord> records = ArchiveFiles.Of(root).SelectMany(ArchiveFormat.Read).ToList();
        Assert.DoesNotContain(records, r => r.Click.UserId == "carol");
        Assert.Equal(3, records.Count(r => r.Erased && r.Click.IpHash.Length == 0 && r.Click.ClickId.Length == 0));
        Assert.Contains(records, r => r.Click.UserId == "erin");

        // Retention runs at start: erin's click is 40 days old, past the 30 days kept.
        server.Start();
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        records = ArchiveFiles.Of(root).SelectMany(ArchiveFormat.Read).ToList();
        Assert.DoesNotContain(records, r => r.Click.UserId == "erin");
        Assert.Contains(records, r => r.Click.UserId == "dave");

        (int code, string output, string error) = TollboothProcess.RunVerb(
            "reconcile", "--data", server.DataDirectory, "--Log:Partitions", "1", "--from", from, "--to", to);
        Assert.True(code == 0, $"erased clicks still reconcile: {output}{error}");
    }

    [Fact]
    public async Task A_rule_dry_run_says_what_a_proposed_rule_set_would_change_and_changes_nothing()
    {
        using var server = new TollboothProcess(null, "--Log:Partitions", "1", "--Archive:FlushIntervalMs", "20");
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        string minute = DateTimeOffset.UtcNow.AddMinutes(-2).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string Click(string id, string agent = "Mozilla/5.0") =>
            JsonSerializer.Serialize(new { click_id = id, ad_id = "ad-dry", advertiser_id = "adv-dry", user_id = "same", user_agent = agent, timestamp = minute, cost_micros = 10 });
        string body = string.Join('\n', Click("d1"), Click("d2"), Click("d3"), Click("d4"), Click("d5"), Click("d6", "SomeCrawler/1.0"));
        using (HttpResponseMessage response = await client.PostClicksAsync(body, "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        string from = DateTimeOffset.UtcNow.AddMinutes(-10).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string to = DateTimeOffset.UtcNow.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        async Task<JsonElement> DryRun(string rules)
        {
            using HttpResponseMessage response = await client.SendAsync(HttpMethod.Post, "/v1/rules/dry-run", $"{{\"rules\": {rules}, \"from\": \"{from}\", \"to\": \"{to}\"}}");
            JsonElement answer = await TollboothClient.JsonOf(response);
            Assert.True(response.StatusCode == HttpStatusCode.OK, answer.ToString());
            return answer;
        }

        // The archive is written a moment after the rows: wait until it holds all six clicks.
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement stricter;
        while ((stricter = await DryRun("{\"user_clicks_per_ad_per_minute_max\": 3}")).GetProperty("clicks_read").GetInt64() < 6 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        JsonElement impact = Assert.Single(stricter.GetProperty("advertisers").EnumerateArray());
        Assert.Equal(
            "adv-dry clicks=6 changing=2 valid 5->3 spend 50->30",
            $"{impact.GetProperty("advertiser_id").GetString()} clicks={impact.GetProperty("clicks").GetInt64()} changing={impact.GetProperty("clicks_changing_verdict").GetInt64()} " +
            $"valid {impact.GetProperty("valid_clicks_now").GetInt64()}->{impact.GetProperty("valid_clicks_proposed").GetInt64()} " +
            $"spend {impact.GetProperty("spend_micros_now").GetInt64()}->{impact.GetProperty("spend_micros_proposed").GetInt64()}");

        // Without the bot list the crawler's click would be valid (the default user limit of 10 keeps it so).
        JsonElement noBots = Assert.Single((await DryRun("{\"bot_user_agents\": [\"nothing-matches-this\"]}")).GetProperty("advertisers").EnumerateArray());
        Assert.Equal((1L, 6L), (noBots.GetProperty("clicks_changing_verdict").GetInt64(), noBots.GetProperty("valid_clicks_proposed").GetInt64()));

        using (HttpResponseMessage wrong = await client.SendAsync(HttpMethod.Post, "/v1/rules/dry-run", $"{{\"rules\": {{\"speed\": 1}}, \"from\": \"{from}\", \"to\": \"{to}\"}}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            Assert.Equal("invalid_rules", (await TollboothClient.JsonOf(wrong)).GetProperty("code").GetString());
        }

        Assert.Equal(5, await client.CountAsync("ad-dry", from, to)); // nothing changed
    }
}

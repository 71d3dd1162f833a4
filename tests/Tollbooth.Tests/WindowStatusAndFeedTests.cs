// Goal: the billing contract over HTTP: a window goes closed -> (late correction) -> final -> amended,
// with a revision per change, each change in the feed once, in order, with cursors that page and that
// survive a replay; and hours and days follow a time zone across a daylight-saving change.
// Method: a server with one partition and a 10-minute allowed lateness receives clicks with fixed past
// timestamps in a known order, so every watermark move is known in advance.
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class WindowStatusAndFeedTests
{
    private static readonly string[] s_settings = ["--Log:Partitions", "1", "--Processing:AllowedLatenessMs", "600000", "--Processing:CommitIntervalMs", "20"];

    private static string Click(string ad, string clickId, string timestamp) =>
        JsonSerializer.Serialize(new { ad_id = ad, advertiser_id = "adv-feed", click_id = clickId, user_id = "u-" + clickId, timestamp, cost_micros = 10 });

    private static async Task<JsonElement> Ok(TollboothClient client, string path)
    {
        (HttpStatusCode status, JsonElement body) = await client.GetAsync(path);
        Assert.True(status == HttpStatusCode.OK, $"{path} answered {(int)status}: {body}");
        return body;
    }

    private static async Task<List<string>> ReadFeedOnePageAtATime(TollboothClient client)
    {
        var rows = new List<string>();
        string cursor = string.Empty;
        while (true)
        {
            JsonElement page = await Ok(client, $"/v1/changes?limit=1&since={cursor}");
            if (page.GetProperty("changes").GetArrayLength() == 0)
            {
                return rows;
            }

            rows.Add(page.GetProperty("changes")[0].ToString());
            cursor = page.GetProperty("next_cursor").GetString()!;
        }
    }

    [Fact]
    public async Task Window_goes_closed_then_corrected_then_final_then_amended_and_the_feed_replays_identically()
    {
        using var server = new TollboothProcess(null, s_settings);
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        string[] clicks =
        [
            Click("ad-s", "A", "2026-11-10T10:00:05Z"),
            Click("ad-s", "B", "2026-11-10T10:01:30Z"), // watermark 10:01:20: 10:00 closes (revision 1)
            Click("ad-s", "C", "2026-11-10T10:00:40Z"), // late, within the lateness: a correction
            Click("ad-s", "D", "2026-11-10T10:02:30Z"), // next minute: the correction is published (revision 2)
            Click("ad-s", "E", "2026-11-10T10:12:30Z"), // watermark 10:12:20: 10:00 is final (revision 3)
            Click("ad-s", "F", "2026-11-10T10:00:50Z"), // too late: counted as too_late only
            Click("ad-s", "G", "2026-11-10T10:13:30Z"), // next minute: 10:00 is amended (revision 4)
        ];
        using (HttpResponseMessage response = await client.PostClicksAsync(string.Join('\n', clicks), "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        JsonElement window = (await Ok(client, "/v1/aggregates?ad_id=ad-s&start=2026-11-10T10:00:00Z&end=2026-11-10T10:01:00Z"))
            .GetProperty("windows")[0];
        Assert.Equal("amended", window.GetProperty("status").GetString());
        Assert.Equal(4, window.GetProperty("revision").GetInt64());
        Assert.True(window.GetProperty("final").GetBoolean());
        Assert.Equal(3, window.GetProperty("received").GetInt64());
        Assert.Equal(2, window.GetProperty("clicks").GetInt64());
        Assert.Equal(1, window.GetProperty("late_clicks").GetInt64());
        Assert.Equal(1, window.GetProperty("too_late").GetInt64());

        JsonElement feed = await Ok(client, "/v1/changes?limit=1000");
        var tenOClock = feed.GetProperty("changes").EnumerateArray()
            .Where(c => c.GetProperty("start").GetString() == "2026-11-10T10:00:00Z")
            .Select(c => $"{c.GetProperty("status").GetString()} r{c.GetProperty("revision").GetInt64()} clicks={c.GetProperty("clicks").GetInt64()} too_late={c.GetProperty("too_late").GetInt64()}")
            .ToList();
        Assert.Equal(["closed r1 clicks=1 too_late=0", "closed r2 clicks=2 too_late=0", "final r3 clicks=2 too_late=0", "amended r4 clicks=2 too_late=1"], tenOClock);

        List<string> paged = await ReadFeedOnePageAtATime(client);
        Assert.Equal(feed.GetProperty("changes").EnumerateArray().Select(c => c.ToString()), paged);

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, TollboothProcess.RunVerb(["replay", "--data", server.DataDirectory, .. s_settings]).ExitCode);
        using var restarted = new TollboothProcess(server.DataDirectory, s_settings);
        restarted.Start();
        using var again = new TollboothClient(restarted.BaseAddress, TollboothProcess.AdminKey);
        await again.WaitForLagZeroAsync();
        Assert.Equal(paged, await ReadFeedOnePageAtATime(again));
    }

    [Fact]
    public async Task Hours_and_days_follow_the_time_zone_across_a_daylight_saving_change()
    {
        using var server = new TollboothProcess(null, s_settings);
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);

        // New York leaves daylight saving at 2026-11-01 02:00 EDT: 01:00-02:00 happens twice, Nov 1 has 25 hours.
        string[] clicks =
        [
            Click("ad-tz", "t1", "2026-11-01T04:30:00Z"), // 00:30 EDT, Nov 1
            Click("ad-tz", "t2", "2026-11-01T05:30:00Z"), // 01:30 EDT
            Click("ad-tz", "t3", "2026-11-01T06:30:00Z"), // 01:30 EST, the same local hour again
            Click("ad-tz", "t4", "2026-11-02T04:30:00Z"), // 23:30 EST, still Nov 1
            Click("ad-tz", "t5", "2026-11-02T05:30:00Z"), // 00:30 EST, Nov 2
        ];
        using (HttpResponseMessage response = await client.PostClicksAsync(string.Join('\n', clicks), "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await client.WaitForLagZeroAsync();
        const string range = "start=2026-11-01T00:00&end=2026-11-03T00:00&tz=America/New_York";
        JsonElement days = await Ok(client, $"/v1/aggregates?ad_id=ad-tz&granularity=day&{range}");
        Assert.Equal(
            ["2026-11-01T04:00:00Z=4", "2026-11-02T05:00:00Z=1"],
            days.GetProperty("windows").EnumerateArray().Select(w => $"{w.GetProperty("start").GetString()}={w.GetProperty("clicks").GetInt64()}"));

        JsonElement hours = await Ok(client, $"/v1/aggregates?ad_id=ad-tz&granularity=hour&{range}");
        Assert.Equal(
            ["2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-02T04:00:00Z", "2026-11-02T05:00:00Z"],
            hours.GetProperty("windows").EnumerateArray().Select(w => w.GetProperty("start").GetString()));

        JsonElement kathmandu = await Ok(client, "/v1/aggregates?ad_id=ad-tz&granularity=hour&start=2026-11-01T04:00:00Z&end=2026-11-01T05:00:00Z&tz=Asia/Kathmandu");
        Assert.Equal("2026-11-01T04:15:00Z", kathmandu.GetProperty("windows")[0].GetProperty("start").GetString());
    }
}

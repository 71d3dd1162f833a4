// Goal: every query endpoint answers as API.md says, with numbers the test computes itself from the
// clicks it sent, and only to the key's owner. Method: one `tollbooth serve` per class; each test uses
// its own advertiser and ad ids; clicks are a few minutes old, so their windows are closed when read.
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class QueryContractTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly DateTimeOffset s_base = DateTimeOffset.UtcNow.AddMinutes(-20);

    private TollboothClient Admin => fixture.Admin;

    private static string Id(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..10];

    private static string Minute(int offset) => s_base.AddMinutes(offset).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");

    private static string At(int minuteOffset, int second = 5) =>
        DateTimeOffset.Parse(Minute(minuteOffset)).AddSeconds(second).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");

    private static string Click(string ad, string advertiser, string clickId, string timestamp, string user = "u1", string campaign = "camp", string device = "mobile", string country = "US", long cost = 1000, string agent = "Mozilla/5.0") =>
        JsonSerializer.Serialize(new
        {
            ad_id = ad,
            advertiser_id = advertiser,
            campaign_id = campaign,
            publisher_id = "pub1",
            click_id = clickId,
            user_id = user,
            timestamp,
            device,
            country,
            cost_micros = cost,
            user_agent = agent,
        });

    private async Task Send(params string[] clicks)
    {
        using HttpResponseMessage response = await Admin.PostClicksAsync(string.Join('\n', clicks), "application/x-ndjson");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Admin.WaitForLagZeroAsync();
    }

    private async Task<JsonElement> Ok(string path, string? key = null)
    {
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync(path, key);
        Assert.True(status == HttpStatusCode.OK, $"{path} answered {(int)status}: {body}");
        return body;
    }

    private static void AssertAddsUp(JsonElement window) =>
        Assert.Equal(
            window.GetProperty("received").GetInt64(),
            window.GetProperty("clicks").GetInt64() + window.GetProperty("duplicate_clicks").GetInt64()
            + window.GetProperty("invalid_clicks").GetInt64() + window.GetProperty("too_late").GetInt64());

    private static void AssertError(HttpStatusCode status, JsonElement body, HttpStatusCode expected, string code)
    {
        Assert.True(status == expected, $"expected {(int)expected} {code}, got {(int)status}: {body}");
        Assert.Equal(code, body.GetProperty("code").GetString());
        string error = body.GetProperty("error").GetString()!;
        Assert.DoesNotContain("Exception", error);
        Assert.DoesNotContain("Tollbooth.", error);
    }

    [Fact]
    public async Task Minute_windows_count_valid_duplicate_and_bot_clicks_and_add_up()
    {
        string adv = Id("adv");
        string ad = Id("ad");
        await Send(
            Click(ad, adv, "a1", At(0), "u1"),
            Click(ad, adv, "a2", At(0, 30), "u2"),
            Click(ad, adv, "a1", At(0, 40), "u1"),
            Click(ad, adv, "a3", At(0, 50), "u3", agent: "Googlebot/2.1"),
            Click(ad, adv, "a4", At(1), "u1", cost: 500));

        JsonElement body = await Ok($"/v1/aggregates?ad_id={ad}&start={Minute(0)}&end={Minute(2)}&granularity=minute&detail=true");
        Assert.Equal(ad, body.GetProperty("key").GetProperty("ad_id").GetString());
        Assert.Equal("USD", body.GetProperty("currency").GetString());
        JsonElement[] windows = body.GetProperty("windows").EnumerateArray().ToArray();
        Assert.Equal(2, windows.Length);
        Assert.Equal(Minute(0), windows[0].GetProperty("start").GetString());
        Assert.Equal(4, windows[0].GetProperty("received").GetInt64());
        Assert.Equal(2, windows[0].GetProperty("clicks").GetInt64());
        Assert.Equal(2000, windows[0].GetProperty("spend_micros").GetInt64());
        Assert.Equal(2, windows[0].GetProperty("unique_users").GetInt64());
        Assert.Equal(1, windows[0].GetProperty("duplicate_clicks").GetInt64());
        Assert.Equal(1, windows[0].GetProperty("invalid_clicks").GetInt64());
        Assert.Equal(1, windows[0].GetProperty("invalid_by_reason").GetProperty("bot").GetInt64());
        Assert.Equal(500, windows[1].GetProperty("spend_micros").GetInt64());
        Assert.All(windows, AssertAddsUp);
    }

    [Fact]
    public async Task Ad_id_with_campaign_id_answers_the_ads_windows_in_that_campaign_only()
    {
        // issue 19: this answered 400 missing_key; campaign_id is one of the filters every query takes.
        string adv = Id("adv");
        string ad = Id("ad");
        await Send(
            Click(ad, adv, "k1", At(0), campaign: "spring"),
            Click(ad, adv, "k2", At(0, 20), campaign: "spring"),
            Click(ad, adv, "k3", At(0, 40), campaign: "autumn"));

        JsonElement body = await Ok($"/v1/aggregates?ad_id={ad}&campaign_id=spring&start={Minute(0)}&end={Minute(1)}");
        Assert.Equal(ad, body.GetProperty("key").GetProperty("ad_id").GetString());
        Assert.Equal(2, Assert.Single(body.GetProperty("windows").EnumerateArray()).GetProperty("clicks").GetInt64());
        body = await Ok($"/v1/aggregates?advertiser_id={adv}&campaign_id=autumn&start={Minute(0)}&end={Minute(1)}");
        Assert.Equal(1, Assert.Single(body.GetProperty("windows").EnumerateArray()).GetProperty("clicks").GetInt64());
    }

    [Fact]
    public async Task Hour_window_merges_unique_users_instead_of_summing_them_and_is_returned_whole()
    {
        string adv = Id("adv");
        string ad = Id("ad");
        await Send(Enumerable.Range(0, 6).Select(i => Click(ad, adv, $"h{i}", At(i), i < 5 ? "same-user" : "other-user")).ToArray());

        // start and end fall inside an hour: each hour they touch comes back whole. Which hours those are
        // depends on the test's clock (the six minutes may straddle an hour boundary).
        static DateTimeOffset HourOf(int minute) => DateTimeOffset.Parse(Minute(minute)).AddMinutes(-DateTimeOffset.Parse(Minute(minute)).Minute);
        DateTimeOffset[] hours = new[] { HourOf(2), HourOf(3) }.Distinct().ToArray();
        JsonElement body = await Ok($"/v1/aggregates?ad_id={ad}&start={At(2)}&end={At(3)}&granularity=hour");
        JsonElement[] windows = body.GetProperty("windows").EnumerateArray().ToArray();
        Assert.Equal(hours.Select(h => h.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")), windows.Select(w => w.GetProperty("start").GetString()));
        int expectedClicks = Enumerable.Range(0, 6).Count(i => hours.Contains(HourOf(i)));
        Assert.Equal(expectedClicks, windows.Sum(w => w.GetProperty("clicks").GetInt64()));
        if (expectedClicks == 6 && windows.Length == 1)
        {
            // Five clicks of one user and one of another: 2 users, not 6.
            Assert.Equal(2, windows[0].GetProperty("unique_users").GetInt64());
        }
    }

    [Fact]
    public async Task Group_by_splits_windows_and_csv_gives_the_same_rows_with_a_header()
    {
        string adv = Id("adv");
        string ad = Id("ad");
        await Send(
            Click(ad, adv, "g1", At(0), device: "mobile"),
            Click(ad, adv, "g2", At(0), device: "mobile", user: "u2"),
            Click(ad, adv, "g3", At(0), device: "desktop"));

        JsonElement body = await Ok($"/v1/aggregates?ad_id={ad}&start={Minute(0)}&end={Minute(1)}&group_by=device");
        var byDevice = body.GetProperty("windows").EnumerateArray().ToDictionary(w => w.GetProperty("device").GetString()!, w => w.GetProperty("clicks").GetInt64());
        Assert.Equal(new Dictionary<string, long> { ["desktop"] = 1, ["mobile"] = 2 }, byDevice);

        using HttpResponseMessage csv = await Admin.SendAsync(HttpMethod.Get, $"/v1/aggregates?ad_id={ad}&start={Minute(0)}&end={Minute(1)}&group_by=device&format=csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
        string[] lines = (await csv.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.StartsWith("start,device,received,clicks,spend_micros,unique_users", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.StartsWith($"{Minute(0)},mobile,2,2,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Campaign_and_advertiser_aggregates_sum_their_ads()
    {
        string adv = Id("adv");
        string a1 = Id("ad");
        string a2 = Id("ad");
        string campaign = Id("camp");
        await Send(
            Click(a1, adv, "c1", At(0), campaign: campaign),
            Click(a2, adv, "c2", At(0), campaign: campaign, user: "u2"),
            Click(a2, adv, "c3", At(0), campaign: "other-campaign", user: "u3"));

        JsonElement byCampaign = await Ok($"/v1/aggregates?campaign_id={campaign}&start={Minute(0)}&end={Minute(1)}&group_by=ad_id");
        Assert.Equal(2, byCampaign.GetProperty("windows").GetArrayLength());
        JsonElement byAdvertiser = await Ok($"/v1/aggregates?advertiser_id={adv}&start={Minute(0)}&end={Minute(1)}");
        Assert.Equal(3, byAdvertiser.GetProperty("windows")[0].GetProperty("clicks").GetInt64());
        Assert.Equal(adv, byAdvertiser.GetProperty("key").GetProperty("advertiser_id").GetString());
    }

    [Fact]
    public async Task Popular_ads_orders_by_count_then_ad_id_and_sees_only_the_callers_ads()
    {
        string adv = Id("adv");
        string other = Id("adv");
        string[] ads = ["p-" + Id("b"), "p-" + Id("a"), "p-" + Id("c")];
        string rival = Id("rival");
        var clicks = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            clicks.Add(Click(ads[0], adv, $"{ads[0]}-{i}", At(1), user: $"u{i}"));
        }

        clicks.Add(Click(ads[1], adv, $"{ads[1]}-0", At(1)));
        clicks.Add(Click(ads[2], adv, $"{ads[2]}-0", At(1)));
        for (int i = 0; i < 9; i++)
        {
            clicks.Add(Click(rival, other, $"{rival}-{i}", At(1), user: $"u{i}"));
        }

        await Send(clicks.ToArray());
        string key = await Admin.CreateKeyAsync("advertiser", adv);
        JsonElement body = await Ok($"/v1/ads/popular_ads?count=3&window=5&to={Minute(3)}", key);
        string[] expectedTies = new[] { ads[1], ads[2] }.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal([ads[0], .. expectedTies], body.GetProperty("ads").EnumerateArray().Select(a => a.GetProperty("ad_id").GetString()!));
        Assert.Equal(3, body.GetProperty("ads")[0].GetProperty("count").GetInt64());
        Assert.Equal(5, body.GetProperty("window_minutes").GetInt32());

        JsonElement seed = await Ok($"/ads/popular_ads?count=1&window=5&to={Minute(3)}", key);
        Assert.Equal([ads[0]], seed.GetProperty("ad_ids").EnumerateArray().Select(a => a.GetString()!));
    }

    [Fact]
    public async Task Another_advertisers_ad_answers_exactly_like_an_unknown_one_and_a_publisher_key_is_refused()
    {
        string adv = Id("adv");
        string ad = Id("ad");
        string campaign = Id("camp");
        await Send(Click(ad, adv, "t1", At(0), campaign: campaign));
        string own = await Admin.CreateKeyAsync("advertiser", adv);
        string stranger = await Admin.CreateKeyAsync("advertiser", Id("adv"));
        string publisher = await Admin.CreateKeyAsync("publisher", "pub1");
        string range = $"start={Minute(0)}&end={Minute(1)}";
        string[] paths =
        [
            $"/v1/ads/{ad}/aggregated_count?from={Minute(0)}&to={Minute(1)}",
            $"/v1/aggregates?ad_id={ad}&{range}",
            $"/v1/aggregates?campaign_id={campaign}&{range}",
            $"/v1/aggregates?advertiser_id={adv}&{range}",
            $"/v1/aggregates/realtime?ad_id={ad}&window=1h",
            $"/v1/advertisers/{adv}",
            $"/aggregates?ad_id={ad}&{range}",
        ];
        foreach (string path in paths)
        {
            await Ok(path, own);
            (HttpStatusCode strangerStatus, JsonElement strangerBody) = await Admin.GetAsync(path, stranger);
            string unknownPath = path.Replace(ad, "no-such-ad").Replace(campaign, "no-such-campaign").Replace(adv, "no-such-adv");
            (HttpStatusCode unknownStatus, JsonElement unknownBody) = await Admin.GetAsync(unknownPath, stranger);
            Assert.Equal(HttpStatusCode.NotFound, strangerStatus);
            Assert.Equal(unknownStatus, strangerStatus);
            Assert.Equal(unknownBody.ToString(), strangerBody.ToString());
            (HttpStatusCode publisherStatus, JsonElement publisherBody) = await Admin.GetAsync(path, publisher);
            AssertError(publisherStatus, publisherBody, HttpStatusCode.Forbidden, "forbidden");
        }

        JsonElement feed = await Ok("/v1/changes?limit=1000", stranger);
        Assert.DoesNotContain(feed.GetProperty("changes").EnumerateArray(), c => c.GetProperty("advertiser_id").GetString() == adv);
    }

    [Fact]
    public async Task Realtime_counts_clicks_processed_in_the_last_window()
    {
        string adv = Id("adv");
        string ad = Id("ad");
        string now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        await Send(Click(ad, adv, "r1", now, cost: 700), Click(ad, adv, "r2", At(0), user: "u2", cost: 300));
        JsonElement body = await Ok($"/v1/aggregates/realtime?ad_id={ad}&window=5m");
        Assert.Equal(2, body.GetProperty("clicks").GetInt64());
        Assert.Equal(1000, body.GetProperty("spend_micros").GetInt64());
        Assert.Equal("5m", body.GetProperty("window").GetString());
        JsonElement seed = await Ok($"/aggregates/realtime?ad_id={ad}&window=30s");
        Assert.Equal(1000, seed.GetProperty("spend").GetInt64());
    }

    [Fact]
    public async Task Advertiser_settings_set_the_currency_and_the_default_time_zone_of_day_windows()
    {
        string adv = Id("adv");
        string ad = Id("ad");
        await Send(Click(ad, adv, "s1", At(0)));
        using (HttpResponseMessage put = await Admin.SendAsync(HttpMethod.Put, $"/v1/advertisers/{adv}", "{\"time_zone\": \"Asia/Kathmandu\", \"currency\": \"EUR\"}"))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        string key = await Admin.CreateKeyAsync("advertiser", adv);
        JsonElement settings = await Ok($"/v1/advertisers/{adv}", key);
        Assert.Equal("Asia/Kathmandu", settings.GetProperty("time_zone").GetString());
        JsonElement body = await Ok($"/v1/aggregates?ad_id={ad}&start={Minute(0)}&end={Minute(1)}&granularity=day", key);
        Assert.Equal("EUR", body.GetProperty("currency").GetString());
        Assert.Equal("Asia/Kathmandu", body.GetProperty("tz").GetString());

        // Kathmandu is UTC+05:45, so its days begin at 18:15 UTC.
        Assert.EndsWith(":15:00Z", body.GetProperty("windows")[0].GetProperty("start").GetString());

        using HttpResponseMessage byAdvertiser = await Admin.SendAsync(HttpMethod.Put, $"/v1/advertisers/{adv}", "{\"currency\": \"EUR\"}", key: key);
        Assert.Equal(HttpStatusCode.Forbidden, byAdvertiser.StatusCode);
        using HttpResponseMessage badZone = await Admin.SendAsync(HttpMethod.Put, $"/v1/advertisers/{adv}", "{\"time_zone\": \"Mars/Olympus\"}");
        AssertError(badZone.StatusCode, await TollboothClient.JsonOf(badZone), HttpStatusCode.BadRequest, "invalid_time_zone");
    }

    [Fact]
    public async Task Saved_filter_stands_for_its_fields_and_only_for_its_owner()
    {
        string adv = Id("adv");
        string ad = Id("ad");
        await Send(Click(ad, adv, "f1", At(0), country: "DE"), Click(ad, adv, "f2", At(0), country: "FR", user: "u2"));
        string key = await Admin.CreateKeyAsync("advertiser", adv);
        using HttpResponseMessage created = await Admin.SendAsync(HttpMethod.Post, "/v1/filters", "{\"country\": \"de\"}", key: key);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        string filterId = (await TollboothClient.JsonOf(created)).GetProperty("filter_id").GetString()!;

        Assert.Equal(1, await Admin.CountAsync(ad, Minute(0), Minute(1), $"&filter={filterId}", key));
        Assert.Equal(2, await Admin.CountAsync(ad, Minute(0), Minute(1), string.Empty, key));
        string stranger = await Admin.CreateKeyAsync("advertiser", Id("adv"));
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync($"/v1/ads/popular_ads?filter={filterId}", stranger);
        AssertError(status, body, HttpStatusCode.NotFound, "filter_not_found");
    }

    [Theory]
    [InlineData("/v1/aggregates?ad_id=AD&start=2026-11-22T11:00:00Z&end=2026-11-22T10:00:00Z", "invalid_range")]
    [InlineData("/v1/aggregates?ad_id=AD&granularity=week", "invalid_granularity")]
    [InlineData("/v1/aggregates?ad_id=AD&tz=Nowhere/Special", "invalid_time_zone")]
    [InlineData("/v1/aggregates?ad_id=AD&start=yesterday", "invalid_time")]
    [InlineData("/v1/aggregates?ad_id=AD&group_by=color", "invalid_group_by")]
    [InlineData("/v1/aggregates?start=2026-11-22T10:00:00Z", "missing_key")]
    [InlineData("/v1/aggregates?ad_id=AD&advertiser_id=adv-any", "ambiguous_key")]
    [InlineData("/v1/aggregates/realtime?ad_id=AD&campaign_id=camp", "ambiguous_key")]
    [InlineData("/v1/reconcile?ad_id=AD&campaign_id=camp", "ambiguous_key")]
    [InlineData("/v1/aggregates?ad_id=AD&start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", "range_too_large")]
    [InlineData("/v1/ads/popular_ads?window=1441", "invalid_window")]
    [InlineData("/v1/ads/popular_ads?count=1001", "invalid_count")]
    [InlineData("/v1/ads/popular_ads?to=noon", "invalid_time")]
    [InlineData("/v1/aggregates/realtime?ad_id=AD&window=25h", "invalid_window")]
    [InlineData("/v1/changes?since=garbage", "invalid_cursor")]
    [InlineData("/v1/changes?limit=0", "invalid_limit")]
    [InlineData("/v1/ads/AD/aggregated_count?from=2026-11-22T11:00:00Z&to=2026-11-22T10:00:00Z", "invalid_range")]
    public async Task Bad_query_parameters_answer_400_with_what_to_send_instead(string path, string code)
    {
        string adv = Id("adv");
        string ad = Id("ad");
        await Send(Click(ad, adv, "b1", At(0)));
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync(path.Replace("AD", ad));
        AssertError(status, body, HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task Openapi_document_lists_every_endpoint_with_its_parameters()
    {
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync("/openapi.json", key: string.Empty);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("3.", body.GetProperty("openapi").GetString());
        JsonElement paths = body.GetProperty("paths");
        (string Path, string Method)[] expected =
        [
            ("/v1/clicks", "post"), ("/events/click", "post"), ("/v1/keys", "post"), ("/v1/keys", "get"), ("/v1/keys/{key_id}", "delete"),
            ("/v1/ads/{ad_id}/aggregated_count", "get"), ("/v1/ads/popular_ads", "get"), ("/v1/aggregates", "get"),
            ("/v1/aggregates/realtime", "get"), ("/v1/changes", "get"), ("/v1/advertisers/{advertiser_id}", "put"),
            ("/v1/advertisers/{advertiser_id}", "get"), ("/v1/filters", "post"), ("/v1/status", "get"), ("/health/live", "get"),
            ("/health/ready", "get"), ("/ads/{ad_id}/aggregated_count", "get"), ("/ads/popular_ads", "get"), ("/aggregates", "get"),
            ("/aggregates/realtime", "get"),
        ];
        foreach ((string path, string method) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out JsonElement item) && item.TryGetProperty(method, out _), $"{method} {path} is missing from /openapi.json");
        }

        var countParameters = paths.GetProperty("/v1/ads/{ad_id}/aggregated_count").GetProperty("get").GetProperty("parameters")
            .EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("ad_id", countParameters);
        Assert.Contains("from", countParameters);
        Assert.Contains("country", countParameters);
    }

    [Fact]
    public async Task Unknown_ad_answers_404()
    {
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync($"/v1/aggregates?ad_id={Id("never")}");
        AssertError(status, body, HttpStatusCode.NotFound, "ad_not_found");
    }
}

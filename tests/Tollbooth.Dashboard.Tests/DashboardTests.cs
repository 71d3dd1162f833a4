// Goal: the dashboard a person opens at / shows exactly the API's numbers for the key they signed in
// with. Method: the real program (`tollbooth serve`, a child process over loopback) and Debian's headless
// Chromium driven by Playwright; clicks are sent through the API, then the page is read (polling with a
// deadline while it refreshes itself) and compared with the API's answer to the very query the page
// records in its panel's data-query, asked with the same key.
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using Tollbooth.Tests;

namespace Tollbooth.Dashboard.Tests;

public sealed class DashboardTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>
{
    private static readonly CultureInfo s_enUs = CultureInfo.GetCultureInfo("en-US");

    private TollboothClient Admin => fixture.Admin;

    [Fact]
    public async Task Admin_dashboard_opens_on_the_busiest_advertiser_not_the_first_by_name()
    {
        // issue 19: it opened on the first advertiser by name while the top ads beside it were another's.
        string suffix = NewSuffix();
        string quiet = "aaa-quiet-adv-" + suffix;
        string busy = "zzz-busy-adv-" + suffix;
        string minute = MinutesAgo(1);
        var clicks = new List<object> { Click($"q-{suffix}", "aaa-quiet-ad-" + suffix, quiet, minute, 1000, "uq") };
        clicks.AddRange(Enumerable.Range(0, 300).Select(i => Click($"b-{suffix}-{i}", "zzz-busy-ad-" + suffix, busy, minute, 1000, $"ub{i}")));
        await SendAsync(clicks);

        IPage page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await SignInWithFormAsync(page, TollboothProcess.AdminKey);
        await Eventually.HoldsAsync(async () =>
        {
            string selected = await page.EvalOnSelectorAsync<string>("#advertiser", "s => s.value");
            return selected == busy ? null : $"the picker on {busy}; it shows {selected}";
        });
    }

    [Fact]
    public async Task Admin_sees_the_clicks_it_sent_in_the_chart_top_ads_and_verdicts_with_the_API_numbers()
    {
        string suffix = NewSuffix();
        string advertiser = "dash-adv-" + suffix;
        string adA = "dash-a-" + suffix;
        string adB = "dash-b-" + suffix;
        string minute = MinutesAgo(2);
        var clicks = new List<object>();
        clicks.AddRange(Enumerable.Range(0, 5).Select(i => Click($"{adA}-{i}", adA, advertiser, minute, 1500, $"ua{i}")));
        clicks.AddRange(Enumerable.Range(0, 3).Select(i => Click($"{adB}-{i}", adB, advertiser, minute, 2000, $"ub{i}")));
        clicks.Add(Click($"{adA}-0", adA, advertiser, minute, 1500, "ua0"));
        clicks.AddRange(Enumerable.Range(0, 2).Select(i => Click($"{adB}-bot{i}", adB, advertiser, minute, 2000, $"bot{i}", "Googlebot/2.1")));
        await SendAsync(clicks);

        IPage page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await SignInWithFormAsync(page, TollboothProcess.AdminKey);
        await Eventually.HoldsAsync(async () =>
            await page.EvalOnSelectorAsync<bool>("#advertiser", $"s => [...s.options].some(o => o.value === {JsonSerializer.Serialize(advertiser)})") ? null : "the advertiser in the picker");
        await page.SelectOptionAsync("#advertiser", advertiser);

        await Eventually.HoldsAsync(async () =>
        {
            List<TopAdRow> rows = await TopAdsAsync(page);
            if (!rows.Any(r => r.Ad == adA && r.Clicks == "5") || !rows.Any(r => r.Ad == adB && r.Clicks == "3"))
            {
                return $"top ads {adA} 5 and {adB} 3; the page shows {string.Join(", ", rows)}";
            }

            JsonElement api = await ApiAsync(page, "top-ads", TollboothProcess.AdminKey);
            List<TopAdRow> expected = api.GetProperty("ads").EnumerateArray()
                .Select(a => new TopAdRow(a.GetProperty("ad_id").GetString()!, Count(a.GetProperty("count").GetInt64()), a.GetProperty("spend_micros").GetInt64().ToString(CultureInfo.InvariantCulture)))
                .ToList();
            return rows.SequenceEqual(expected) ? null : $"top ads as the API answers them: {string.Join(", ", expected)}; the page shows {string.Join(", ", rows)}";
        });

        await Eventually.HoldsAsync(async () =>
        {
            JsonElement api = await ApiAsync(page, "overview", TollboothProcess.AdminKey);
            Dictionary<string, long> perMinute = api.GetProperty("windows").EnumerateArray().ToDictionary(w => w.GetProperty("start").GetString()!, w => w.GetProperty("clicks").GetInt64());
            List<(string Start, long Value)> bars = await BarsAsync(page, "#overview-chart");
            if (bars.Count != 60)
            {
                return $"60 bars, one a minute; the page shows {bars.Count}";
            }

            string? differing = bars.Where(b => b.Value != perMinute.GetValueOrDefault(b.Start)).Select(b => $"{b.Start}: page {b.Value}, API {perMinute.GetValueOrDefault(b.Start)}").FirstOrDefault();
            if (differing is not null)
            {
                return "every bar equal to the API's minute: " + differing;
            }

            return bars.Any(b => b.Start == minute && b.Value == 8) ? null : $"a bar of 8 clicks at {minute}";
        });

        Dictionary<string, string> verdicts = await VerdictsAsync(page);
        Assert.Equal("8", verdicts["valid"]);
        Assert.Equal("1", verdicts["duplicate"]);
        Assert.Equal("2", verdicts["invalid:bot"]);
        Assert.Equal("2", verdicts["invalid"]);
        Assert.Equal("11", verdicts["received"]);
        Assert.Equal("8", await page.TextContentAsync("#kpi-clicks"));

        // The operator's panel is there for an admin key, with the lag /v1/status reports once caught up.
        Assert.True(await page.IsVisibleAsync("#pipeline"));
        await Eventually.HoldsAsync(async () => await page.TextContentAsync("#ops-lag") == "0 clicks" ? null : "a processing lag of 0 clicks");

        await page.ClickAsync($"#top-ads-rows tr[data-ad='{adA}'] button");
        await Eventually.HoldsAsync(async () => await DetailRowsAsync(page) is { Count: > 0 } ? null : $"{adA}'s hour windows");
        await SaveScreenshotAsync(page);
    }

    [Fact]
    public async Task Switching_the_time_zone_moves_an_ads_hour_windows_to_that_zones_hours()
    {
        string suffix = NewSuffix();
        string advertiser = "dash-tz-adv-" + suffix;
        string ad = "dash-tz-" + suffix;
        await SendAsync(Enumerable.Range(0, 4).Select(i => Click($"{ad}-{i}", ad, advertiser, MinutesAgo(2), 1000, $"u{i}")).ToList());

        IPage page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await SignInWithFormAsync(page, TollboothProcess.AdminKey);
        await page.FillAsync("#detail-id", ad);
        await page.SelectOptionAsync("#detail-granularity", "hour");
        await page.ClickAsync("#detail-form button[type=submit]");
        await ExpectHourWindowsAsync(page, ":00:00Z", "UTC");

        await page.SelectOptionAsync("#tz", "Asia/Kolkata");
        await ExpectHourWindowsAsync(page, ":30:00Z", "Asia/Kolkata");
        Assert.Contains("Asia/Kolkata", await page.TextContentAsync("#detail-scope"));
    }

    [Fact]
    public async Task Opening_a_link_with_the_key_in_the_fragment_signs_in_and_the_key_leaves_the_address_bar()
    {
        string advertiser = "dash-link-adv-" + NewSuffix();
        string key = await Admin.CreateKeyAsync("advertiser", advertiser);

        IPage page = await fixture.NewPageAsync();
        await page.GotoAsync("/#key=" + Uri.EscapeDataString(key));
        await page.WaitForSelectorAsync("body[data-state='signed-in']");
        Assert.Equal($"Advertiser {advertiser}", await page.TextContentAsync("#who"));
        Assert.DoesNotContain("key=", page.Url, StringComparison.Ordinal);
        Assert.DoesNotContain(key, page.Url, StringComparison.Ordinal);
        Assert.Equal(fixture.Server.BaseAddress.ToString(), page.Url);
        Assert.Equal(key, await page.EvaluateAsync<string>("() => sessionStorage.getItem('tollbooth.key')"));

        // A reload keeps the tab signed in from sessionStorage; signing out forgets the key.
        await page.ReloadAsync();
        await page.WaitForSelectorAsync("body[data-state='signed-in']");
        await page.ClickAsync("#sign-out");
        await page.WaitForSelectorAsync("body[data-state='signed-out']");
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('tollbooth.key')"));
    }

    [Fact]
    public async Task An_advertiser_sees_its_own_ads_and_not_found_for_another_advertisers_ad_never_its_numbers()
    {
        string suffix = NewSuffix();
        string own = "dash-own-adv-" + suffix;
        string other = "dash-other-adv-" + suffix;
        string ownAd = "dash-own-" + suffix;
        string otherAd = "dash-other-" + suffix;
        var clicks = new List<object>();
        clicks.AddRange(Enumerable.Range(0, 2).Select(i => Click($"{ownAd}-{i}", ownAd, own, MinutesAgo(2), 1000, $"o{i}")));
        clicks.AddRange(Enumerable.Range(0, 7).Select(i => Click($"{otherAd}-{i}", otherAd, other, MinutesAgo(2), 4321, $"x{i}")));
        await SendAsync(clicks);
        string key = await Admin.CreateKeyAsync("advertiser", own);

        IPage page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await SignInWithFormAsync(page, key);
        await Eventually.HoldsAsync(async () =>
        {
            List<TopAdRow> rows = await TopAdsAsync(page);
            return rows.Count == 1 && rows[0] == new TopAdRow(ownAd, "2", "2000") ? null : $"only {ownAd} with 2 clicks in top ads; the page shows {string.Join(", ", rows)}";
        });
        Assert.False(await page.IsVisibleAsync("#advertiser-field"));
        Assert.False(await page.IsVisibleAsync("#pipeline"));

        (HttpStatusCode status, JsonElement notFound) = await Admin.GetAsync($"/v1/aggregates?ad_id={Uri.EscapeDataString(otherAd)}&granularity=hour", key);
        Assert.Equal(HttpStatusCode.NotFound, status);
        string message = notFound.GetProperty("error").GetString()!;
        foreach (string asked in (string[])[otherAd, "dash-nobody-" + suffix])
        {
            await page.FillAsync("#detail-id", asked);
            await page.ClickAsync("#detail-form button[type=submit]");
            await Eventually.HoldsAsync(async () =>
                await page.IsVisibleAsync("#detail-error") && await page.TextContentAsync("#detail-error") == message ? null : $"the API's not-found sentence for {asked}");
            Assert.False(await page.IsVisibleAsync("#detail-result"));
            Assert.Empty(await DetailRowsAsync(page));
        }

        string text = await page.InnerTextAsync("body");
        Assert.DoesNotContain(other, text, StringComparison.Ordinal);
        Assert.DoesNotContain("4,321", text, StringComparison.Ordinal);
        Assert.DoesNotContain("0.004321", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_publisher_key_is_refused_at_sign_in_with_one_sentence()
    {
        string key = await Admin.CreateKeyAsync("publisher", "dash-pub-" + NewSuffix());
        IPage page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await page.FillAsync("#key", key);
        await page.ClickAsync("#sign-in-form button[type=submit]");
        await Eventually.HoldsAsync(async () =>
            (await page.TextContentAsync("#sign-in-error"))?.Length > 0 ? null : "a sign-in error");
        Assert.Equal("A publisher key can only send clicks: sign in with an advertiser or admin key.", await page.TextContentAsync("#sign-in-error"));
        Assert.False(await page.IsVisibleAsync("#dashboard"));
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('tollbooth.key')"));
    }

    private async Task ExpectHourWindowsAsync(IPage page, string startsEndWith, string zone)
    {
        await Eventually.HoldsAsync(async () =>
        {
            List<(string Start, string Clicks)> rows = await DetailRowsAsync(page);
            if (rows.Count == 0 || rows.Any(r => !r.Start.EndsWith(startsEndWith, StringComparison.Ordinal)))
            {
                return $"hour windows starting at {startsEndWith} in {zone}; the page shows {string.Join(", ", rows)}";
            }

            string query = await page.GetAttributeAsync("#detail", "data-query") ?? string.Empty;
            if (!query.Contains("tz=" + Uri.EscapeDataString(zone), StringComparison.Ordinal))
            {
                return $"a query with tz={zone}; the page asked {query}";
            }

            JsonElement api = await ApiAsync(page, "detail", TollboothProcess.AdminKey);
            List<(string, string)> expected = api.GetProperty("windows").EnumerateArray()
                .Select(w => (w.GetProperty("start").GetString()!, Count(w.GetProperty("clicks").GetInt64()))).Reverse().ToList();
            return rows.SequenceEqual(expected) ? null : $"the API's windows {string.Join(", ", expected)}; the page shows {string.Join(", ", rows)}";
        });
    }

    private async Task SendAsync(List<object> clicks)
    {
        using HttpResponseMessage response = await Admin.PostClicksAsync(JsonSerializer.Serialize(clicks));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(clicks.Count, (await TollboothClient.JsonOf(response)).GetProperty("accepted").GetInt32());
        await Admin.WaitForLagZeroAsync();
    }

    private static async Task SignInWithFormAsync(IPage page, string key)
    {
        await page.FillAsync("#key", key);
        await page.ClickAsync("#sign-in-form button[type=submit]");
        await page.WaitForSelectorAsync("body[data-state='signed-in']");
    }

    /// <summary>The API's answer, with <paramref name="key"/>, to the query the panel recorded in data-query.</summary>
    private async Task<JsonElement> ApiAsync(IPage page, string panel, string key)
    {
        string query = await page.GetAttributeAsync($"#{panel}", "data-query") ?? throw new InvalidOperationException($"#{panel} has no data-query yet.");
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync(query, key);
        Assert.True(status == HttpStatusCode.OK, $"{query} answered {(int)status}: {body}");
        return body;
    }

    private static async Task<List<TopAdRow>> TopAdsAsync(IPage page)
    {
        string json = await page.EvaluateAsync<string>(
            "() => JSON.stringify([...document.querySelectorAll('#top-ads-rows tr')].map(r => [r.dataset.ad, r.querySelector('.clicks').textContent, r.querySelector('.spend').dataset.spendMicros]))");
        return JsonSerializer.Deserialize<string[][]>(json)!.Select(r => new TopAdRow(r[0], r[1], r[2])).ToList();
    }

    private static async Task<List<(string Start, long Value)>> BarsAsync(IPage page, string chart)
    {
        string json = await page.EvaluateAsync<string>(
            $"() => JSON.stringify([...document.querySelectorAll('{chart} rect.bar')].map(b => [b.dataset.start, b.dataset.value]))");
        return JsonSerializer.Deserialize<string[][]>(json)!.Select(b => (b[0], long.Parse(b[1], CultureInfo.InvariantCulture))).ToList();
    }

    private static async Task<List<(string Start, string Clicks)>> DetailRowsAsync(IPage page)
    {
        string json = await page.EvaluateAsync<string>(
            "() => JSON.stringify([...document.querySelectorAll('#detail-rows tr')].map(r => [r.dataset.start, r.querySelector('.clicks').textContent]))");
        return JsonSerializer.Deserialize<string[][]>(json)!.Select(r => (r[0], r[1])).ToList();
    }

    private static async Task<Dictionary<string, string>> VerdictsAsync(IPage page)
    {
        string json = await page.EvaluateAsync<string>(
            "() => JSON.stringify(Object.fromEntries([...document.querySelectorAll('#verdict-rows tr')].map(r => [r.dataset.verdict, r.querySelector('.value').textContent])))");
        return JsonSerializer.Deserialize<Dictionary<string, string>>(json)!;
    }

    /// <summary>TestResults/dashboard.png at the repository root: the artifact CI keeps.</summary>
    private static async Task SaveScreenshotAsync(IPage page)
    {
        DirectoryInfo root = new(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Tollbooth.slnx")))
        {
            root = root.Parent ?? throw new InvalidOperationException("No Tollbooth.slnx above the test folder.");
        }

        string path = Path.Combine(root.FullName, "TestResults", "dashboard.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
    }

    private static object Click(string clickId, string adId, string advertiserId, string timestamp, long costMicros, string userId, string? userAgent = null) =>
        new { click_id = clickId, ad_id = adId, advertiser_id = advertiserId, timestamp, cost_micros = costMicros, user_id = userId, user_agent = userAgent ?? "Mozilla/5.0", country = "us", device = "mobile" };

    private static string MinutesAgo(int minutes) =>
        DateTimeOffset.UtcNow.AddMinutes(-minutes).ToString("yyyy-MM-dd'T'HH:mm:00'Z'", CultureInfo.InvariantCulture);

    private static string Count(long value) => value.ToString("N0", s_enUs);

    private static string NewSuffix() => Guid.NewGuid().ToString("N")[..8];

    private sealed record TopAdRow(string Ad, string Clicks, string SpendMicros);
}

// Goal: signed click links and the invalid-traffic rules work end to end: an issued link redirects and
// counts once however often it is reloaded; a tampered, unknown-key or retired-key link answers 403 and
// is counted only as invalid (bad_token); posted clicks carrying tokens verify the same way; an
// advertiser that requires signing gets unsigned clicks counted as invalid (unsigned); clicks over the
// per-user rate limit are invalid (rate). Every window adds up, and a replay gives the same rows.
// Method: the real program on one partition; links followed without redirects; numbers read back from
// /v1/aggregates?detail=true after lag 0.
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class SignedClickTests
{
    private static readonly string[] s_settings = ["--Log:Partitions", "2", "--Processing:CommitIntervalMs", "20", "--Rules:UserClicksPerAdPerMinuteMax", "3"];

    private static async Task<(string Token, string ClickUrl)> IssueAsync(TollboothClient admin, string ad, string advertiser, string landing = "https://shop.example/landing?p=1")
    {
        string body = JsonSerializer.Serialize(new { ad_id = ad, advertiser_id = advertiser, campaign_id = "camp-t", cost_micros = 2500, landing_url = landing });
        using HttpResponseMessage response = await admin.SendAsync(HttpMethod.Post, "/v1/tokens", body);
        JsonElement issued = await TollboothClient.JsonOf(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /v1/tokens answered {(int)response.StatusCode}: {issued}");
        return (issued.GetProperty("token").GetString()!, issued.GetProperty("click_url").GetString()!);
    }

    private static HttpClient Browser(TollboothProcess server) =>
        new(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };

    private static async Task<JsonElement> WindowAsync(TollboothClient admin, string ad)
    {
        await admin.WaitForLagZeroAsync();
        string from = DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:00:00'Z'");
        string to = DateTimeOffset.UtcNow.AddHours(2).ToString("yyyy-MM-dd'T'HH:00:00'Z'");
        (HttpStatusCode status, JsonElement body) = await admin.GetAsync($"/v1/aggregates?ad_id={ad}&start={from}&end={to}&granularity=day&detail=true");
        Assert.True(status == HttpStatusCode.OK, $"aggregates answered {(int)status}: {body}");
        JsonElement window = Assert.Single(body.GetProperty("windows").EnumerateArray());
        Assert.Equal(
            window.GetProperty("received").GetInt64(),
            window.GetProperty("clicks").GetInt64() + window.GetProperty("duplicate_clicks").GetInt64()
                + window.GetProperty("invalid_clicks").GetInt64() + window.GetProperty("too_late").GetInt64());
        return window;
    }

    private static long Invalid(JsonElement window, string reason) =>
        window.GetProperty("invalid_by_reason").TryGetProperty(reason, out JsonElement count) ? count.GetInt64() : 0;

    [Fact]
    public async Task A_click_link_redirects_and_a_reloaded_link_counts_once()
    {
        using var server = new TollboothProcess(null, s_settings);
        server.Start();
        using var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        (string _, string clickUrl) = await IssueAsync(admin, "ad-link", "adv-link");
        using HttpClient browser = Browser(server);
        for (int reload = 0; reload < 3; reload++)
        {
            using HttpResponseMessage response = await browser.GetAsync(clickUrl);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.Equal("https://shop.example/landing?p=1", response.Headers.Location!.ToString());
        }

        JsonElement window = await WindowAsync(admin, "ad-link");
        Assert.Equal(1, window.GetProperty("clicks").GetInt64());
        Assert.Equal(2500, window.GetProperty("spend_micros").GetInt64());
        Assert.Equal(2, window.GetProperty("duplicate_clicks").GetInt64());
    }

    [Fact]
    public async Task A_tampered_link_answers_403_and_counts_only_as_an_invalid_click()
    {
        using var server = new TollboothProcess(null, s_settings);
        server.Start();
        using var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        (string token, string _) = await IssueAsync(admin, "ad-tamper", "adv-tamper");
        using HttpClient browser = Browser(server);

        // The last character carries signature bits only: the fields still read, the signature fails.
        string tampered = token[..^1] + (token[^1] == 'A' ? 'Q' : 'A');
        using (HttpResponseMessage response = await browser.GetAsync("/v1/click/" + tampered))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            JsonElement error = await TollboothClient.JsonOf(response);
            Assert.Equal("token_bad_signature", error.GetProperty("code").GetString());
            Assert.DoesNotContain("Exception", error.ToString());
        }

        using (HttpResponseMessage response = await browser.GetAsync("/v1/click/" + token[..20]))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("token_malformed", (await TollboothClient.JsonOf(response)).GetProperty("code").GetString());
        }

        JsonElement window = await WindowAsync(admin, "ad-tamper");
        Assert.Equal((0, 1, 0L), (window.GetProperty("clicks").GetInt64(), Invalid(window, "bad_token"), window.GetProperty("spend_micros").GetInt64()));
    }

    [Fact]
    public async Task After_a_key_rotation_old_links_work_until_their_key_is_retired()
    {
        using var server = new TollboothProcess(null, s_settings);
        server.Start();
        using var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        (string _, string oldUrl) = await IssueAsync(admin, "ad-rot", "adv-rot");
        (HttpStatusCode _, JsonElement before) = await admin.GetAsync("/v1/tokens/keys");
        string oldKey = before.GetProperty("keys")[0].GetProperty("key_id").GetString()!;
        using (HttpResponseMessage rotated = await admin.SendAsync(HttpMethod.Post, "/v1/tokens/keys"))
        {
            Assert.Equal(HttpStatusCode.Created, rotated.StatusCode);
        }

        (string _, string newUrl) = await IssueAsync(admin, "ad-rot", "adv-rot");
        using HttpClient browser = Browser(server);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync(oldUrl)).StatusCode);
        using (HttpResponseMessage retired = await admin.SendAsync(HttpMethod.Delete, "/v1/tokens/keys/" + oldKey))
        {
            Assert.Equal(HttpStatusCode.NoContent, retired.StatusCode);
        }

        using (HttpResponseMessage refused = await browser.GetAsync(oldUrl))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("token_unknown_key", (await TollboothClient.JsonOf(refused)).GetProperty("code").GetString());
        }

        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync(newUrl)).StatusCode);

        // The link followed while its key was active counted; after retirement the same link is a duplicate
        // of that click (same click id), so it adds nothing but a received duplicate.
        JsonElement window = await WindowAsync(admin, "ad-rot");
        Assert.Equal(2, window.GetProperty("clicks").GetInt64());
        Assert.Equal(1, window.GetProperty("duplicate_clicks").GetInt64());
    }

    [Fact]
    public async Task Posted_clicks_with_tokens_verify_and_signing_advertisers_do_not_pay_for_unsigned_clicks()
    {
        using var server = new TollboothProcess(null, s_settings);
        server.Start();
        using var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        using (HttpResponseMessage put = await admin.SendAsync(HttpMethod.Put, "/v1/advertisers/adv-sig", "{\"require_signed_clicks\": true}"))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        (string good, string _) = await IssueAsync(admin, "ad-sig", "adv-sig");
        (string other, string _) = await IssueAsync(admin, "ad-other", "adv-sig");
        string now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        object Click(string id, string? token) => new { click_id = id, ad_id = "ad-sig", advertiser_id = "adv-sig", campaign_id = "camp-t", cost_micros = 2500, user_id = "u-" + id, timestamp = now, token };
        string body = JsonSerializer.Serialize(new[]
        {
            Click("p1", good),          // verifies: valid, counted under the token's click id
            Click("p2", good),          // the same token again: a duplicate
            Click("p3", null),          // unsigned, and this advertiser requires signing
            Click("p4", other),         // a token for another ad: does not verify
            Click("p5", good[..^2]),    // a cut token
        });
        using (HttpResponseMessage response = await admin.PostClicksAsync(body))
        {
            JsonElement answer = await TollboothClient.JsonOf(response);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal(5, answer.GetProperty("accepted").GetInt32());
        }

        JsonElement window = await WindowAsync(admin, "ad-sig");
        Assert.Equal(1, window.GetProperty("clicks").GetInt64());
        Assert.Equal(1, window.GetProperty("duplicate_clicks").GetInt64());
        Assert.Equal(1, Invalid(window, "unsigned"));
        Assert.Equal(2, Invalid(window, "bad_token"));
    }

    [Fact]
    public async Task Clicks_over_the_rate_limit_are_invalid_and_a_replay_gives_the_same_rows()
    {
        using var server = new TollboothProcess(null, s_settings);
        server.Start();
        using var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        string minute = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string body = string.Join('\n', Enumerable.Range(0, 5).Select(i => JsonSerializer.Serialize(
            new { click_id = $"rate{i}", ad_id = "ad-rate", advertiser_id = "adv-rate", user_id = "same-user", timestamp = minute })));
        using (HttpResponseMessage response = await admin.PostClicksAsync(body, "application/x-ndjson"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        JsonElement window = await WindowAsync(admin, "ad-rate");
        Assert.Equal((3, 2L), (window.GetProperty("clicks").GetInt64(), Invalid(window, "rate")));

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        (int _, string served, string _) = TollboothProcess.RunVerb("dump", "--data", server.DataDirectory);
        // The rules are settings: a replay decides the same with the same ones.
        (int replayExit, string _, string replayError) = TollboothProcess.RunVerb("replay", "--data", server.DataDirectory, "--Log:Partitions", "2", "--Rules:UserClicksPerAdPerMinuteMax", "3");
        Assert.True(replayExit == 0, replayError);
        (int _, string replayed, string _) = TollboothProcess.RunVerb("dump", "--data", server.DataDirectory);
        Assert.Equal(served, replayed);
    }
}

// Goal: POST /v1/clicks and the seed path behave as API.md says, over real HTTP against the real
// program: every rejection rule with its index and code, valid items of a mixed batch kept, whole-body
// errors, keys, and resends counted once. Method: one `tollbooth serve` child process per class; every
// test uses its own ad ids so tests do not see each other's clicks; counts are read after lag 0.
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class IngestContractTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly string s_minute = DateTimeOffset.UtcNow.AddMinutes(-3).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
    private static readonly string s_from = DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
    private static readonly string s_to = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");

    private TollboothClient Admin => fixture.Admin;

    private static string Ad() => "ad-" + Guid.NewGuid().ToString("N")[..12];

    private static string Click(string adId, string? clickId = null, string extra = "") =>
        $"{{\"ad_id\":\"{adId}\",\"advertiser_id\":\"adv1\"{(clickId is null ? "" : $",\"click_id\":\"{clickId}\"")},\"timestamp\":\"{s_minute}\"{extra}}}";

    private async Task<JsonElement> PostAccepted(string body, string contentType = "application/json", string? key = null)
    {
        using HttpResponseMessage response = await Admin.PostClicksAsync(body, contentType, key);
        JsonElement json = await TollboothClient.JsonOf(response);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"expected 202, got {(int)response.StatusCode}: {json}");
        return json;
    }

    private async Task<long> CountAfterLagZero(string adId, string extraQuery = "")
    {
        await Admin.WaitForLagZeroAsync();
        return await Admin.CountAsync(adId, s_from, s_to, extraQuery);
    }

    private static void AssertError(JsonElement body, string code)
    {
        Assert.Equal(code, body.GetProperty("code").GetString());
        string error = body.GetProperty("error").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(error));
        Assert.DoesNotContain("Exception", error);
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain("Tollbooth.", error);
    }

    [Fact]
    public async Task One_click_object_is_accepted_and_counted()
    {
        string ad = Ad();
        JsonElement answer = await PostAccepted(Click(ad, "c1"));
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(0, answer.GetProperty("rejected").GetArrayLength());
        Assert.Equal(1, await CountAfterLagZero(ad));
    }

    [Fact]
    public async Task Array_and_ndjson_bodies_are_accepted()
    {
        string ad = Ad();
        await PostAccepted($"[{Click(ad, "a1")},{Click(ad, "a2")}]");
        await PostAccepted($"{Click(ad, "n1")}\n\n{Click(ad, "n2")}\n", "application/x-ndjson");
        Assert.Equal(4, await CountAfterLagZero(ad));
    }

    [Fact]
    public async Task Seed_path_events_click_accepts_clicks()
    {
        string ad = Ad();
        using HttpResponseMessage response = await Admin.SendAsync(HttpMethod.Post, "/events/click", Click(ad, "s1"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, await CountAfterLagZero(ad));
    }

    [Fact]
    public async Task Mixed_batch_keeps_valid_clicks_and_reports_each_rejection_with_its_index()
    {
        string ad = Ad();
        string body = "[" + string.Join(',',
            Click(ad, "m0"),
            "{\"advertiser_id\":\"adv1\"}",
            Click(ad, "bad id!"),
            Click(ad, "m3", ",\"device\":\"toaster\""),
            Click(ad, "m4", ",\"country\":\"usa\""),
            Click(ad, "m5", ",\"cost_micros\":-5"),
            Click(ad, "m6", ",\"ip\":\"999.1.1.1\""),
            "42",
            Click(ad, "m8")) + "]";
        JsonElement answer = await PostAccepted(body);
        Assert.Equal(2, answer.GetProperty("accepted").GetInt32());
        var rejected = answer.GetProperty("rejected").EnumerateArray()
            .Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty("code").GetString()))
            .ToList();
        Assert.Equal(
            [(1, "missing_ad_id"), (2, "invalid_click_id"), (3, "invalid_device"), (4, "invalid_country"), (5, "invalid_cost_micros"), (6, "invalid_ip"), (7, "not_an_object")],
            rejected);
        foreach (JsonElement rejection in answer.GetProperty("rejected").EnumerateArray())
        {
            AssertError(rejection, rejection.GetProperty("code").GetString()!);
        }

        Assert.Equal(2, await CountAfterLagZero(ad));
    }

    [Fact]
    public async Task Click_from_the_future_is_rejected()
    {
        string ad = Ad();
        string future = DateTimeOffset.UtcNow.AddMinutes(30).ToString("O");
        JsonElement answer = await PostAccepted($"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"timestamp\":\"{future}\"}}");
        Assert.Equal(0, answer.GetProperty("accepted").GetInt32());
        Assert.Equal("timestamp_in_future", answer.GetProperty("rejected")[0].GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("not json at all", "application/json", "invalid_json")]
    [InlineData("", "application/json", "empty_body")]
    [InlineData("{\"ad_id\":\"x\"}", "text/plain", "unsupported_media_type")]
    [InlineData("[{\"ad_id\": ", "application/json", "invalid_json")]
    public async Task Unreadable_body_answers_400(string body, string contentType, string code)
    {
        using HttpResponseMessage response = await Admin.PostClicksAsync(body, contentType);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        AssertError(await TollboothClient.JsonOf(response), code);
    }

    [Fact]
    public async Task Too_many_clicks_or_too_many_bytes_answer_413_and_accept_nothing()
    {
        string ad = Ad();
        string tooMany = "[" + string.Join(',', Enumerable.Range(0, 51).Select(i => Click(ad, $"t{i}"))) + "]";
        using HttpResponseMessage many = await Admin.PostClicksAsync(tooMany);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, many.StatusCode);
        AssertError(await TollboothClient.JsonOf(many), "too_many_clicks");

        string tooBig = $"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"padding\":\"{new string('x', 70_000)}\"}}";
        using HttpResponseMessage big = await Admin.PostClicksAsync(tooBig);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        AssertError(await TollboothClient.JsonOf(big), "body_too_large");

        await Admin.WaitForLagZeroAsync();
        (HttpStatusCode status, _) = await Admin.GetAsync($"/v1/ads/{ad}/aggregated_count?from={s_from}&to={s_to}");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Missing_or_unknown_key_answers_401_and_wrong_role_403()
    {
        string ad = Ad();
        using HttpResponseMessage missing = await Admin.PostClicksAsync(Click(ad), key: "");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        AssertError(await TollboothClient.JsonOf(missing), "missing_api_key");

        using HttpResponseMessage unknown = await Admin.PostClicksAsync(Click(ad), key: "tb_nobody");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        AssertError(await TollboothClient.JsonOf(unknown), "unknown_api_key");

        string advertiser = await Admin.CreateKeyAsync("advertiser", "adv1");
        using HttpResponseMessage wrongRole = await Admin.PostClicksAsync(Click(ad), key: advertiser);
        Assert.Equal(HttpStatusCode.Forbidden, wrongRole.StatusCode);
        JsonElement wrongRoleBody = await TollboothClient.JsonOf(wrongRole);
        AssertError(wrongRoleBody, "forbidden");
        Assert.Equal("An advertiser key may not do this: use a key with the publisher or admin role.", wrongRoleBody.GetProperty("error").GetString());

        string publisher = await Admin.CreateKeyAsync("publisher", "pub1");
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync($"/v1/ads/{ad}/aggregated_count", publisher);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        AssertError(body, "forbidden");
        Assert.Equal("A publisher key may not do this: use a key with the advertiser or admin role.", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Bearer_authorization_header_is_accepted()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/status");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TollboothProcess.AdminKey);
        using var http = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Publisher_key_stamps_its_publisher_and_rejects_another()
    {
        string ad = Ad();
        string publisher = await Admin.CreateKeyAsync("publisher", "pub-stamp");
        JsonElement answer = await PostAccepted($"[{Click(ad, "p1")},{Click(ad, "p2", ",\"publisher_id\":\"pub-other\"")}]", key: publisher);
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        Assert.Equal("publisher_mismatch", answer.GetProperty("rejected")[0].GetProperty("code").GetString());
        Assert.Equal(1, await CountAfterLagZero(ad, "&publisher_id=pub-stamp"));
        Assert.Equal(0, await Admin.CountAsync(ad, s_from, s_to, "&publisher_id=pub-other"));
    }

    [Fact]
    public async Task Resent_click_with_the_same_id_is_accepted_again_and_counted_once()
    {
        string ad = Ad();
        await PostAccepted(Click(ad, "same"));
        await PostAccepted(Click(ad, "same"));
        await PostAccepted($"[{Click(ad, "same")},{Click(ad, "other")}]");
        Assert.Equal(2, await CountAfterLagZero(ad));
    }

    [Fact]
    public async Task Resent_click_without_an_id_is_counted_once()
    {
        string ad = Ad();
        string click = $"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"user_id\":\"u1\",\"ip\":\"10.0.0.1\",\"timestamp\":\"{s_minute}\"}}";
        string otherUser = click.Replace("\"u1\"", "\"u2\"");
        await PostAccepted(click);
        await PostAccepted(click);
        await PostAccepted(otherUser);
        Assert.Equal(2, await CountAfterLagZero(ad));
    }

    [Fact]
    public async Task Counts_filter_by_campaign_publisher_country_and_device()
    {
        string ad = Ad();
        await PostAccepted("[" + string.Join(',',
            Click(ad, "f1", ",\"campaign_id\":\"camp1\",\"publisher_id\":\"pubA\",\"country\":\"us\",\"device\":\"mobile\""),
            Click(ad, "f2", ",\"campaign_id\":\"camp1\",\"publisher_id\":\"pubB\",\"country\":\"DE\",\"device\":\"desktop\""),
            Click(ad, "f3", ",\"campaign_id\":\"camp2\",\"publisher_id\":\"pubA\",\"country\":\"US\",\"device\":\"mobile\"")) + "]");
        Assert.Equal(3, await CountAfterLagZero(ad));
        Assert.Equal(2, await Admin.CountAsync(ad, s_from, s_to, "&campaign_id=camp1"));
        Assert.Equal(2, await Admin.CountAsync(ad, s_from, s_to, "&publisher_id=pubA"));
        Assert.Equal(2, await Admin.CountAsync(ad, s_from, s_to, "&country=us"));
        Assert.Equal(1, await Admin.CountAsync(ad, s_from, s_to, "&device=desktop"));
        Assert.Equal(1, await Admin.CountAsync(ad, s_from, s_to, "&campaign_id=camp1&country=US&device=mobile"));
    }

    [Fact]
    public async Task Count_covers_only_the_minutes_from_to()
    {
        string ad = Ad();
        DateTimeOffset minute = DateTimeOffset.Parse(s_minute);
        string at(int offsetMinutes, int second) => minute.AddMinutes(offsetMinutes).AddSeconds(second).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        await PostAccepted("[" + string.Join(',',
            $"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"click_id\":\"w0\",\"timestamp\":\"{at(-1, 59)}\"}}",
            $"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"click_id\":\"w1\",\"timestamp\":\"{at(0, 0)}\"}}",
            $"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"click_id\":\"w2\",\"timestamp\":\"{at(0, 59)}\"}}",
            $"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"click_id\":\"w3\",\"timestamp\":\"{at(1, 0)}\"}}") + "]");
        await Admin.WaitForLagZeroAsync();
        Assert.Equal(2, await Admin.CountAsync(ad, at(0, 0), at(1, 0)));
        Assert.Equal(2, await Admin.CountAsync(ad, at(0, 30), at(1, 30)));
        Assert.Equal(4, await Admin.CountAsync(ad, at(-1, 0), at(2, 0)));
        long fromMs = minute.ToUnixTimeMilliseconds();
        Assert.Equal(2, await Admin.CountAsync(ad, fromMs.ToString(), (fromMs + 60_000).ToString()));
    }

    [Fact]
    public async Task Unknown_ad_and_another_advertisers_ad_answer_the_same_404()
    {
        string ad = Ad();
        await PostAccepted(Click(ad, "x1"));
        await Admin.WaitForLagZeroAsync();
        string owner = await Admin.CreateKeyAsync("advertiser", "adv1");
        string stranger = await Admin.CreateKeyAsync("advertiser", "adv2");
        Assert.Equal(1, await Admin.CountAsync(ad, s_from, s_to, key: owner));
        (HttpStatusCode otherStatus, JsonElement otherBody) = await Admin.GetAsync($"/v1/ads/{ad}/aggregated_count", stranger);
        (HttpStatusCode unknownStatus, JsonElement unknownBody) = await Admin.GetAsync($"/v1/ads/{Ad()}/aggregated_count", stranger);
        Assert.Equal(HttpStatusCode.NotFound, otherStatus);
        Assert.Equal(HttpStatusCode.NotFound, unknownStatus);
        Assert.Equal(unknownBody.ToString(), otherBody.ToString());
    }

    [Fact]
    public async Task Seed_count_path_answers_ad_id_and_count()
    {
        string ad = Ad();
        await PostAccepted(Click(ad, "seed"));
        await Admin.WaitForLagZeroAsync();
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync($"/ads/{ad}/aggregated_count?from={s_from}&to={s_to}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(ad, body.GetProperty("ad_id").GetString());
        Assert.Equal(1, body.GetProperty("count").GetInt64());
    }

    [Theory]
    [InlineData("from=yesterday", "invalid_time")]
    [InlineData("from=2026-11-22T10:05:00Z&to=2026-11-22T10:04:00Z", "invalid_range")]
    [InlineData("device=fridge", "invalid_device")]
    public async Task Bad_query_parameters_answer_400(string query, string code)
    {
        string ad = Ad();
        await PostAccepted(Click(ad, "q"));
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync($"/v1/ads/{ad}/aggregated_count?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, code);
    }

    [Fact]
    public async Task Keys_are_listed_without_secrets_and_revoked_at_once()
    {
        using HttpResponseMessage created = await Admin.SendAsync(HttpMethod.Post, "/v1/keys", "{\"role\":\"publisher\",\"publisher_id\":\"pub-revoke\"}");
        JsonElement key = await TollboothClient.JsonOf(created);
        string secret = key.GetProperty("key").GetString()!;
        string keyId = key.GetProperty("key_id").GetString()!;
        (HttpStatusCode _, JsonElement list) = await Admin.GetAsync("/v1/keys");
        Assert.Contains(list.GetProperty("keys").EnumerateArray(), k => k.GetProperty("key_id").GetString() == keyId && !k.TryGetProperty("key", out _));
        Assert.DoesNotContain(secret, list.ToString());

        using HttpResponseMessage deleted = await Admin.SendAsync(HttpMethod.Delete, $"/v1/keys/{keyId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using HttpResponseMessage after = await Admin.PostClicksAsync(Click(Ad()), key: secret);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    // JSON can spell text that is not text (a lone surrogate escape); every endpoint taking a JSON object says so with
    // a 400 instead of failing when it reads the field (POST /v1/tokens answered 500 until a fuzz run found it).
    [Theory]
    [InlineData("POST", "/v1/keys", "{\"role\":\"publisher\",\"publisher_id\":\"p\\ud800\"}")]
    [InlineData("POST", "/v1/keys", "{\"role\":\"publisher\",\"publisher\\udc00_id\":\"p\"}")]
    [InlineData("POST", "/v1/tokens", "{\"ad_id\":\"a\\ud800\",\"advertiser_id\":\"adv1\",\"landing_url\":\"https://example.com/\"}")]
    [InlineData("POST", "/v1/tokens", "{\"ad_id\":\"a\",\"advertiser_id\":\"adv1\",\"landing_url\":\"https://example.com/\\udfff\"}")]
    [InlineData("POST", "/v1/filters", "{\"campaign_id\":\"c\\ud800\"}")]
    [InlineData("PUT", "/v1/advertisers/adv-surrogate", "{\"time_zone\":\"UTC\",\"currency\":\"US\\ud800\"}")]
    [InlineData("POST", "/v1/rules/dry-run", "{\"rules\":{\"bot_user_agents\":[\"bot\\ud800\"]}}")]
    public async Task A_lone_surrogate_escape_in_a_json_body_answers_400(string method, string path, string body)
    {
        using HttpResponseMessage response = await Admin.SendAsync(new HttpMethod(method), path, body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        AssertError(await TollboothClient.JsonOf(response), "invalid_json");
    }

    [Fact]
    public async Task Keys_are_listed_a_page_at_a_time_each_key_once()
    {
        var made = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage created = await Admin.SendAsync(HttpMethod.Post, "/v1/keys", $"{{\"role\":\"publisher\",\"publisher_id\":\"pub-page-{i}\"}}");
            made.Add((await TollboothClient.JsonOf(created)).GetProperty("key_id").GetString()!);
        }

        var seen = new List<string>();
        string? after = null;
        for (int pages = 0; pages < 1000; pages++)
        {
            (HttpStatusCode status, JsonElement page) = await Admin.GetAsync("/v1/keys?limit=2" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after)));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(page.GetProperty("keys").GetArrayLength() <= 2);
            seen.AddRange(page.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("key_id").GetString()!));
            if (!page.TryGetProperty("next_after", out JsonElement next))
            {
                break;
            }

            after = next.GetString();
        }

        Assert.Equal(seen.Distinct(StringComparer.Ordinal).Count(), seen.Count);
        Assert.Superset(made, seen.ToHashSet(StringComparer.Ordinal));
        (HttpStatusCode _, JsonElement whole) = await Admin.GetAsync("/v1/keys");
        Assert.Equal(whole.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("key_id").GetString()!), seen);

        (HttpStatusCode tooMany, JsonElement error) = await Admin.GetAsync("/v1/keys?limit=1001");
        Assert.Equal(HttpStatusCode.BadRequest, tooMany);
        AssertError(error, "invalid_limit");
    }

    [Fact]
    public async Task Health_endpoints_need_no_key_and_status_reports_partitions()
    {
        using var http = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync("/v1/status");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(8, body.GetProperty("partitions").GetArrayLength());
        Assert.True(body.GetProperty("ingested").GetInt64() >= body.GetProperty("processed").GetInt64());
    }

    [Fact]
    public async Task Unknown_path_answers_json_404()
    {
        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync("/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertError(body, "not_found");
    }
}

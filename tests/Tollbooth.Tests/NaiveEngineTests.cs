// Goal: the naive engine (`serve --engine naive`, the seed's design kept to be measured against) does what
// the seed says it does: it counts every accepted click, writes the raw row and the campaign-hour counter
// synchronously, and counts a resent click twice (no dedup). Issue 6. Method: a real PostgreSQL 15 cluster
// and the real program as a child process; the same HTTP requests a publisher sends to Tollbooth. The naive
// engine writes before it answers 202, so counts are read at once, without waiting for any processing.
using System.Net;
using System.Text.Json;
using Npgsql;

namespace Tollbooth.Tests;

public sealed class NaiveEngineTests(NaiveEngineFixture fixture) : IClassFixture<NaiveEngineFixture>
{
    private static readonly DateTimeOffset s_minute = new(DateTimeOffset.UtcNow.AddMinutes(-3).Ticks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute, TimeSpan.Zero);
    private static readonly string s_from = s_minute.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
    private static readonly string s_to = s_minute.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");

    private TollboothClient Admin => fixture.Admin;

    private static string NewId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..12];

    private static string Click(string adId, string clickId, string campaignId = "camp1") =>
        JsonSerializer.Serialize(new { click_id = clickId, ad_id = adId, advertiser_id = "adv1", campaign_id = campaignId, timestamp = s_minute.ToUnixTimeMilliseconds(), cost_micros = 250 });

    private async Task<JsonElement> PostAccepted(string body, string contentType = "application/json")
    {
        using HttpResponseMessage response = await Admin.PostClicksAsync(body, contentType);
        JsonElement json = await TollboothClient.JsonOf(response);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"expected 202, got {(int)response.StatusCode}: {json}\n{fixture.Server.Output}");
        return json;
    }

    [Fact]
    public async Task Naive_engine_counts_single_clicks_arrays_and_ndjson()
    {
        string ad = NewId("ad");
        await PostAccepted(Click(ad, NewId("c")));
        await PostAccepted($"[{Click(ad, NewId("c"))},{Click(ad, NewId("c"))}]");
        JsonElement ndjson = await PostAccepted($"{Click(ad, NewId("c"))}\n{Click(ad, NewId("c"))}\n{Click(ad, NewId("c"))}\n", "application/x-ndjson");

        Assert.Equal(3, ndjson.GetProperty("accepted").GetInt32());
        Assert.Equal(6, await Admin.CountAsync(ad, s_from, s_to));
    }

    [Fact]
    public async Task Naive_engine_counts_a_resent_click_twice()
    {
        string ad = NewId("ad");
        string click = Click(ad, NewId("c"));

        await PostAccepted(click);
        await PostAccepted(click);

        Assert.Equal(2, await Admin.CountAsync(ad, s_from, s_to));
    }

    [Fact]
    public async Task Naive_engine_stores_a_raw_row_and_a_campaign_hour_counter_per_click()
    {
        string ad = NewId("ad");
        string campaign = NewId("camp");
        string click = Click(ad, NewId("c"), campaign);

        await PostAccepted($"[{click},{click},{Click(ad, NewId("c"), campaign)}]");

        await using var connection = new NpgsqlConnection(fixture.Postgres.ConnectionString);
        await connection.OpenAsync();
        Assert.Equal(3L, await Scalar(connection, "SELECT count(*) FROM clicks WHERE campaign_id = $1", campaign));
        Assert.Equal(3L, await Scalar(connection, "SELECT clicks FROM campaign_aggregates WHERE campaign_id = $1", campaign));
        Assert.Equal(750L, await Scalar(connection, "SELECT spend_micros FROM campaign_aggregates WHERE campaign_id = $1", campaign));
    }

    [Fact]
    public async Task Naive_engine_rejects_bad_items_and_keys_as_tollbooth_does()
    {
        string ad = NewId("ad");

        JsonElement mixed = await PostAccepted($"[{Click(ad, NewId("c"))},{{\"advertiser_id\":\"adv1\"}}]");
        using HttpResponseMessage noKey = await Admin.PostClicksAsync(Click(ad, NewId("c")), key: "");
        using HttpResponseMessage notJson = await Admin.PostClicksAsync("not json");

        Assert.Equal(1, mixed.GetProperty("accepted").GetInt32());
        JsonElement rejection = Assert.Single(mixed.GetProperty("rejected").EnumerateArray());
        Assert.Equal(1, rejection.GetProperty("index").GetInt32());
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal(1, await Admin.CountAsync(ad, s_from, s_to));
    }

    [Fact]
    public async Task Naive_engine_hides_an_ad_from_another_advertiser()
    {
        string ad = NewId("ad");
        await PostAccepted(Click(ad, NewId("c")));
        string otherAdvertiser = await Admin.CreateKeyAsync("advertiser", "adv2");

        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync($"/v1/ads/{ad}/aggregated_count?from={s_from}&to={s_to}", otherAdvertiser);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ad_not_found", body.GetProperty("code").GetString());
    }

    private static async Task<long> Scalar(NpgsqlConnection connection, string sql, string parameter)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

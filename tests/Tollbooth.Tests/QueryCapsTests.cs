// Goal: a group_by answer is capped at 10,000 rows (windows times groups): one row more is a 400 `too_many_rows`
// with one sentence saying what to send instead, in JSON, CSV and the seeds' shape alike; exactly 10,000 rows still
// answer in full. Method: 10,001 ads of one campaign, one click each in the same minute (10,000 from one publisher,
// one from another), sent in batches against the real program; group_by=ad_id over that minute's hour.
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class QueryCapsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int RowsMax = 10_000;

    private TollboothClient Admin => fixture.Admin;

    [Fact]
    public async Task A_group_by_answer_over_10000_rows_is_refused_and_one_of_exactly_10000_answers_in_full()
    {
        string suffix = Guid.NewGuid().ToString("N")[..10];
        string advertiser = "caps-adv-" + suffix;
        string campaign = "caps-camp-" + suffix;
        DateTimeOffset minute = DateTimeOffset.UtcNow.AddMinutes(-10);
        string timestamp = minute.ToString("yyyy-MM-dd'T'HH:mm:05'Z'");
        var clicks = new List<string>(RowsMax + 1);
        for (int i = 0; i <= RowsMax; i++)
        {
            clicks.Add(JsonSerializer.Serialize(new
            {
                ad_id = $"caps-ad-{suffix}-{i}",
                advertiser_id = advertiser,
                campaign_id = campaign,
                publisher_id = i < RowsMax ? "caps-pub-a" : "caps-pub-b",
                click_id = $"caps-{suffix}-{i}",
                user_id = "u" + i,
                timestamp,
            }));
        }

        // The fixture takes at most 50 clicks a request; four requests at a time.
        using var gate = new SemaphoreSlim(4);
        await Task.WhenAll(clicks.Chunk(50).Select(async batch =>
        {
            await gate.WaitAsync();
            try
            {
                using HttpResponseMessage response = await Admin.PostClicksAsync(string.Join('\n', batch), "application/x-ndjson");
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }
            finally
            {
                gate.Release();
            }
        }));
        await Admin.WaitForLagZeroAsync();

        string hour = new DateTimeOffset(minute.Year, minute.Month, minute.Day, minute.Hour, 0, 0, TimeSpan.Zero).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string range = $"campaign_id={campaign}&start={hour}&end={Uri.EscapeDataString(minute.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'"))}&granularity=hour&group_by=ad_id";
        foreach (string path in new[] { $"/v1/aggregates?{range}", $"/v1/aggregates?{range}&format=csv", $"/aggregates?{range}" })
        {
            (HttpStatusCode status, JsonElement body) = await Admin.GetAsync(path);
            Assert.True(status == HttpStatusCode.BadRequest, $"{path} answered {(int)status}");
            Assert.Equal("too_many_rows", body.GetProperty("code").GetString());
            string error = body.GetProperty("error").GetString()!;
            Assert.Contains("10,000", error);
            Assert.Contains("narrow", error);
            Assert.DoesNotContain("Exception", error);
        }

        // The same campaign without the other publisher's ad: exactly 10,000 rows, every one of them.
        (HttpStatusCode capped, JsonElement full) = await Admin.GetAsync($"/v1/aggregates?{range}&publisher_id=caps-pub-a");
        Assert.Equal(HttpStatusCode.OK, capped);
        JsonElement[] windows = full.GetProperty("windows").EnumerateArray().ToArray();
        Assert.Equal(RowsMax, windows.Length);
        Assert.Equal(RowsMax, windows.Select(w => w.GetProperty("ad_id").GetString()).Distinct().Count());
        Assert.All(windows, w => Assert.Equal(1, w.GetProperty("received").GetInt64()));

        // Without group_by the span caps bound the answer: one window of 10,001 clicks.
        (HttpStatusCode whole, JsonElement summed) = await Admin.GetAsync($"/v1/aggregates?{range.Replace("&group_by=ad_id", string.Empty, StringComparison.Ordinal)}");
        Assert.Equal(HttpStatusCode.OK, whole);
        Assert.Equal(RowsMax + 1, summed.GetProperty("windows")[0].GetProperty("received").GetInt64());
    }
}

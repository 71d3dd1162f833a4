using System.Net;
using System.Text.Json;
using Tollbooth.Commands;
using Tollbooth.Core;

namespace Tollbooth.Loadgen;

/// <summary>
/// The end of a run: waits until the server's lag is 0 (every acknowledged click counted), reads each
/// advertiser's hours broken down by ad (<c>GET /v1/aggregates ... group_by=ad_id&amp;detail=true</c>), and
/// compares every ad's numbers with the truth. Prints <c>counts match: N ads, M clicks</c> or each mismatch.
/// </summary>
public static class LoadgenCheck
{
    private const int MismatchesShownMax = 20;
    private static readonly TimeSpan s_lagDeadline = TimeSpan.FromMinutes(10);

    /// <summary>0 when every ad matches, 1 when any differs.</summary>
    public static async Task<int> RunAsync(HttpClient http, LoadgenWorkload workload, LoadgenTruth truth, long fromMs, long toMs, ProgressDisplay progress)
    {
        await WaitForLagZeroAsync(http, progress);
        Dictionary<string, AdCounts> server = await ReadServerAsync(http, workload, fromMs, toMs);
        AdCounts[] expected = truth.Expected(workload.PriceMicros);
        var mismatches = new List<string>();
        int ads = 0;
        long clicks = 0;
        AdCounts total = default;
        for (int ad = 0; ad < expected.Length; ad++)
        {
            string adId = workload.AdId(ad);
            server.Remove(adId, out AdCounts shown);
            ads += expected[ad].Received > 0 ? 1 : 0;
            clicks += expected[ad].Clicks;
            total = total.Plus(expected[ad]);
            Compare(adId, expected[ad], shown, truth.Uncertain, mismatches);
        }

        foreach ((string adId, AdCounts shown) in server)
        {
            mismatches.Add($"mismatch: ad {adId}: received {shown.Received} (expected none: loadgen never sent it)");
        }

        if (mismatches.Count == 0)
        {
            progress.Finish(
                $"counts match: {ProgressDisplay.Number(ads)} ads, {ProgressDisplay.Number(clicks)} clicks " +
                $"(received {ProgressDisplay.Number(total.Received)}, duplicates {ProgressDisplay.Number(total.DuplicateClicks)}, invalid: bot {ProgressDisplay.Number(total.InvalidBot)}, " +
                $"rate {ProgressDisplay.Number(total.InvalidRate)}, bad_token {ProgressDisplay.Number(total.InvalidBadToken)}; spend {ProgressDisplay.Number(total.SpendMicros)} micros)");
            return 0;
        }

        foreach (string line in mismatches.Take(MismatchesShownMax))
        {
            progress.Finish(line);
        }

        if (mismatches.Count > MismatchesShownMax)
        {
            progress.Finish($"... and {mismatches.Count - MismatchesShownMax} more");
        }

        progress.Finish(
            $"counts differ on {mismatches.Count} of {ProgressDisplay.Number(ads)} ads: loadgen predicts with the Rules:* and Processing:BotUserAgents " +
            "settings it is given (--config, TOLLBOOTH_* variables, flags), so give it the server's.");
        return 1;
    }

    // One line per ad that differs, naming every field that does.
    private static void Compare(string adId, AdCounts expected, AdCounts shown, long uncertain, List<string> mismatches)
    {
        var differences = new List<string>();
        using IEnumerator<(string Field, long Value)> shownFields = shown.Fields().GetEnumerator();
        foreach ((string field, long value) in expected.Fields())
        {
            shownFields.MoveNext();
            long actual = shownFields.Current.Value;
            // A request whose answer was lost and was sent again may have been received twice: more received
            // copies (all duplicates) are then not an error, up to the clicks in doubt.
            bool inDoubt = field is "received" or "duplicate_clicks" && actual >= value && actual - value <= uncertain;
            if (actual != value && !inDoubt)
            {
                differences.Add($"{field} {actual} (expected {value})");
            }
        }

        if (differences.Count > 0)
        {
            mismatches.Add($"mismatch: ad {adId}: {string.Join(", ", differences)}");
        }
    }

    private static async Task WaitForLagZeroAsync(HttpClient http, ProgressDisplay progress)
    {
        DateTime deadline = DateTime.UtcNow + s_lagDeadline;
        while (true)
        {
            using JsonDocument status = await GetJsonAsync(http, "v1/status");
            long lag = status.RootElement.GetProperty("lag").GetInt64();
            if (lag == 0)
            {
                progress.Finish("the server has counted every acknowledged click (lag 0)");
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the server's lag is still {lag} clicks after {s_lagDeadline.TotalMinutes} minutes: see its log, then run the check again with a longer wait.");
            }

            progress.Update($"waiting for the server to count every acknowledged click: lag {ProgressDisplay.Number(lag)}");
            await Task.Delay(200);
        }
    }

    private static async Task<Dictionary<string, AdCounts>> ReadServerAsync(HttpClient http, LoadgenWorkload workload, long fromMs, long toMs)
    {
        var counts = new Dictionary<string, AdCounts>(StringComparer.Ordinal);
        string range = $"granularity=hour&start={TimeText.Format(fromMs)}&end={TimeText.Format(toMs)}&group_by=ad_id&detail=true";
        for (int advertiser = 0; advertiser < workload.AdvertiserCount; advertiser++)
        {
            string path = $"v1/aggregates?advertiser_id={Uri.EscapeDataString(workload.AdvertiserIdByIndex(advertiser))}&{range}";
            using HttpResponseMessage response = await http.GetAsync(path);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                continue; // none of its ads got a click
            }

            using JsonDocument answer = await ParseAsync(response, path);
            foreach (JsonElement window in answer.RootElement.GetProperty("windows").EnumerateArray())
            {
                string adId = window.GetProperty("ad_id").GetString()!;
                counts[adId] = counts.GetValueOrDefault(adId).Plus(Read(window));
            }
        }

        return counts;
    }

    private static AdCounts Read(JsonElement window)
    {
        JsonElement reasons = window.GetProperty("invalid_by_reason");
        return new AdCounts(
            window.GetProperty("received").GetInt64(),
            window.GetProperty("clicks").GetInt64(),
            window.GetProperty("spend_micros").GetInt64(),
            window.GetProperty("duplicate_clicks").GetInt64(),
            reasons.GetProperty("bot").GetInt64(),
            reasons.GetProperty("rate").GetInt64(),
            reasons.GetProperty("bad_token").GetInt64(),
            reasons.GetProperty("unsigned").GetInt64(),
            window.GetProperty("too_late").GetInt64());
    }

    private static async Task<JsonDocument> GetJsonAsync(HttpClient http, string path)
    {
        using HttpResponseMessage response = await http.GetAsync(path);
        return await ParseAsync(response, path);
    }

    private static async Task<JsonDocument> ParseAsync(HttpResponseMessage response, string path)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            string body = await response.Content.ReadAsStringAsync();
            throw new InvalidOperationException($"the server answered {(int)response.StatusCode} to GET /{path}: {(body.Length <= 300 ? body : body[..300])}");
        }

        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
    }
}

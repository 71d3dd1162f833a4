using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Tollbooth.Benchmarks.Naive;

/// <summary>What a freshness run measured: the load it sustained and, per probe click, the time from its 202 to its count.</summary>
public sealed record FreshnessResult(double ClicksPerSecond, double P50Ms, double P99Ms, int Probes, int NeverSeen);

/// <summary>
/// Click to queryable: under a paced background load of 1,000-click batches, a probe click for a fresh ad is posted
/// every 100 ms; from its 202, its ad's <c>aggregated_count</c> is polled every 2 ms until it shows the click. The
/// poll interval bounds the resolution; a probe not seen within 30 s is counted as never seen.
/// </summary>
public static class Freshness
{
    private const int ClicksPerRequest = 1000;
    private static readonly TimeSpan s_probeEvery = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_pollEvery = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(30);

    public static async Task<FreshnessResult> RunAsync(string url, string key, int clicksPerSecond, TimeSpan duration)
    {
        string run = "f" + Guid.NewGuid().ToString("N")[..6];
        var workload = new Workload(seed: 17);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Distinct clicks for the first seconds; after that the bodies come round again (counted as duplicates, which
        // the processors still read, decide and count).
        byte[][] bodies = Enumerable.Range(0, 300).Select(_ => Encoding.UTF8.GetBytes(workload.Body(ClicksPerRequest, now, ndjson: true, run))).ToArray();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Add("X-Api-Key", key);

        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        long acknowledged = 0;
        Task load = PacedLoadAsync(http, bodies, clicksPerSecond, () => Interlocked.Add(ref acknowledged, ClicksPerRequest), stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(2)); // warm up before the first probe
        long acknowledgedAtStart = Interlocked.Read(ref acknowledged);
        TimeSpan start = clock.Elapsed;
        var probes = new List<Task<double?>>();
        for (int i = 0; clock.Elapsed - start < duration; i++)
        {
            probes.Add(ProbeAsync(http, $"{run}-probe{i}"));
            await Task.Delay(s_probeEvery);
        }

        double sustained = (Interlocked.Read(ref acknowledged) - acknowledgedAtStart) / (clock.Elapsed - start).TotalSeconds;
        stop.Cancel();
        await load;
        double?[] measured = await Task.WhenAll(probes);
        double[] seen = measured.Where(m => m is not null).Select(m => m!.Value).Order().ToArray();
        return new FreshnessResult(sustained, Percentile(seen, 0.50), Percentile(seen, 0.99), measured.Length, measured.Length - seen.Length);
    }

    // One request started every 1000/rate seconds on a fixed schedule, up to 64 in flight; a slow server sustains less.
    private static async Task PacedLoadAsync(HttpClient http, byte[][] bodies, int clicksPerSecond, Action acknowledged, CancellationToken stop)
    {
        double requestsPerSecond = (double)clicksPerSecond / ClicksPerRequest;
        var inFlight = new SemaphoreSlim(64);
        var sends = new List<Task>();
        var clock = Stopwatch.StartNew();
        for (long i = 0; !stop.IsCancellationRequested; i++)
        {
            TimeSpan due = TimeSpan.FromSeconds(i / requestsPerSecond);
            if (due > clock.Elapsed)
            {
                try
                {
                    await Task.Delay(due - clock.Elapsed, stop);
                }
                catch (TaskCanceledException)
                {
                    break;
                }
            }

            await inFlight.WaitAsync();
            byte[] body = bodies[i % bodies.Length];
            sends.Add(Task.Run(async () =>
            {
                try
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
                    using HttpResponseMessage response = await http.PostAsync("/v1/clicks", content);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        acknowledged();
                    }
                }
                catch (HttpRequestException)
                {
                    // counted as not sustained
                }
                finally
                {
                    inFlight.Release();
                }
            }));
            sends.RemoveAll(t => t.IsCompleted);
        }

        await Task.WhenAll(sends);
    }

    private static async Task<double?> ProbeAsync(HttpClient http, string adId)
    {
        long timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string body = JsonSerializer.Serialize(new { click_id = adId, ad_id = adId, advertiser_id = "fresh-adv", campaign_id = "fresh-camp", timestamp });
        using (var content = new StringContent(body, Encoding.UTF8, "application/json"))
        using (HttpResponseMessage response = await http.PostAsync("/v1/clicks", content))
        {
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                return null;
            }
        }

        long acked = Stopwatch.GetTimestamp();
        string from = DateTimeOffset.FromUnixTimeMilliseconds(timestamp).AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'", CultureInfo.InvariantCulture);
        string to = DateTimeOffset.FromUnixTimeMilliseconds(timestamp).AddMinutes(2).ToString("yyyy-MM-dd'T'HH:mm:00'Z'", CultureInfo.InvariantCulture);
        while (Stopwatch.GetElapsedTime(acked) < s_probeTimeout)
        {
            using HttpResponseMessage answer = await http.GetAsync($"/v1/ads/{adId}/aggregated_count?from={from}&to={to}");
            if (answer.StatusCode == HttpStatusCode.OK)
            {
                using JsonDocument count = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
                if (count.RootElement.GetProperty("count").GetInt64() >= 1)
                {
                    return Stopwatch.GetElapsedTime(acked).TotalMilliseconds;
                }
            }

            await Task.Delay(s_pollEvery);
        }

        return null;
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}

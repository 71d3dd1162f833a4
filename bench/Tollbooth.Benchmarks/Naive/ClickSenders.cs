using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Tollbooth.Benchmarks.Naive;

/// <summary>What a batch run measured: clicks acknowledged with 202 per second and the request latencies.</summary>
public sealed record BatchResult(double ClicksPerSecond, double P50Ms, double P99Ms, long Failed);

/// <summary>What a single-click run sent: every click id acknowledged with 202, how many requests were resends, how many were refused.</summary>
public sealed record SingleClickResult(HashSet<string> AckedIds, long Requests, long Resends, long Refused);

/// <summary>
/// HTTP senders for the runs where every request's outcome matters (wrk cannot say which click a response was for):
/// batched ingest, and single clicks with resends or an outage, where each acknowledged click id is remembered.
/// </summary>
public static class ClickSenders
{
    public static async Task<BatchResult> BatchesAsync(string url, string key, byte[][] bodies, string contentType, int clicksPerRequest, int senders, TimeSpan duration)
    {
        // The naive engine takes seconds for one 1,000-click request: wait for it rather than count it refused.
        using HttpClient http = Client(url, key, senders, TimeSpan.FromMinutes(5));
        TimeSpan warmup = TimeSpan.FromSeconds(2);
        var clock = Stopwatch.StartNew();
        long acknowledged = 0;
        long failed = 0;
        var latencies = new List<double>[senders];
        async Task Send(int sender)
        {
            latencies[sender] = new List<double>();
            for (int i = sender; clock.Elapsed < warmup + duration; i += senders)
            {
                using var content = new ByteArrayContent(bodies[i % bodies.Length]);
                content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
                long before = Stopwatch.GetTimestamp();
                using HttpResponseMessage response = await http.PostAsync("/v1/clicks", content);
                double ms = Stopwatch.GetElapsedTime(before).TotalMilliseconds;
                if (clock.Elapsed <= warmup)
                {
                    continue;
                }

                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    Interlocked.Add(ref acknowledged, clicksPerRequest);
                    latencies[sender].Add(ms);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, senders).Select(Send));
        double seconds = (clock.Elapsed - warmup).TotalSeconds;
        double[] all = latencies.SelectMany(l => l).Order().ToArray();
        return new BatchResult(acknowledged / seconds, Percentile(all, 0.50), Percentile(all, 0.99), failed);
    }

    /// <summary>
    /// Sends single clicks, each with a new click id, from <paramref name="senders"/> connections for <paramref name="duration"/>;
    /// after a 202, a seeded <paramref name="resendFraction"/> of them is sent again (a client retrying a lost answer).
    /// A refused request (error status or no connection) is not retried: the click is dropped, as a pixel would be.
    /// </summary>
    public static async Task<SingleClickResult> SingleClicksAsync(string url, string key, string runPrefix, int adCount, int senders, TimeSpan duration, double resendFraction, int seed)
    {
        using HttpClient http = Client(url, key, senders, TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        var acked = new List<string>[senders];
        long requests = 0, resends = 0, refused = 0;
        async Task Send(int sender)
        {
            var random = new Random(seed + sender);
            acked[sender] = new List<string>();
            string? resend = null;
            for (int n = 0; clock.Elapsed < duration; n++)
            {
                string clickId = resend ?? $"{runPrefix}-{sender}-{n}";
                bool isResend = resend is not null;
                resend = null;
                string body = $"{{\"click_id\":\"{clickId}\",\"ad_id\":\"{runPrefix}-ad{Math.Abs(clickId.GetHashCode()) % adCount}\",\"advertiser_id\":\"adv1\",\"campaign_id\":\"{runPrefix}-camp\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64)\",\"cost_micros\":1250}}";
                Interlocked.Increment(ref requests);
                if (await PostAsync(http, body))
                {
                    acked[sender].Add(clickId);
                    Interlocked.Add(ref resends, isResend ? 1 : 0);
                    resend = !isResend && random.NextDouble() < resendFraction ? clickId : null;
                }
                else
                {
                    Interlocked.Increment(ref refused);
                    await Task.Delay(10);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, senders).Select(Send));
        return new SingleClickResult(acked.SelectMany(a => a).ToHashSet(StringComparer.Ordinal), requests, resends, refused);
    }

    private static async Task<bool> PostAsync(HttpClient http, string body)
    {
        try
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using HttpResponseMessage response = await http.PostAsync("/v1/clicks", content);
            return response.StatusCode == HttpStatusCode.Accepted;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException)
        {
            return false;
        }
    }

    private static HttpClient Client(string url, string key, int senders, TimeSpan timeout)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = senders }) { BaseAddress = new Uri(url), Timeout = timeout };
        http.DefaultRequestHeaders.Add("X-Api-Key", key);
        return http;
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}

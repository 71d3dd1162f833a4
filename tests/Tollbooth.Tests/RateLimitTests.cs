// Goal: one tenant or one source cannot take what the others need. A publisher sending far past its clicks a
// second gets 429 with Retry-After and one sentence, none of those clicks count, and it is served again once it
// waits; a publisher within its limit, meanwhile, never sees a 429 and all its clicks count. The same for the
// requests of one source address and for an advertiser's queries. Query ranges and page sizes over their caps
// answer 400 naming the maximum, and a client that sends its headers or its body a byte at a time is cut off.
// Method: the real program over loopback, started with small limits; each client binds its own loopback source
// address (127.0.0.x), so each has its own address bucket. Bursts are sent in parallel and are many times the
// bucket's size, so passing them all would take the server many seconds; no timing is asserted, every wait
// polls with a deadline.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tollbooth.Tests;

/// <summary>One `tollbooth serve` with small rate limits and short connection timeouts.</summary>
public sealed class RateLimitServer() : RunningServer(
    "--Log:Partitions", "2",
    "--Processing:CommitIntervalMs", "20",
    "--Ingest:ClicksPerRequestMax", "100",
    "--Limits:PublisherClicksPerSecond", $"{PublisherClicksPerSecond}",
    "--Limits:PublisherClicksBurst", $"{PublisherClicksPerSecond}",
    "--Limits:AddressRequestsPerSecond", "10",
    "--Limits:AddressRequestsBurst", $"{AddressRequestsBurst}",
    "--Limits:AdvertiserQueriesPerSecond", $"{AdvertiserQueriesPerSecond}",
    "--Limits:AdvertiserQueriesBurst", $"{AdvertiserQueriesPerSecond}",
    "--Limits:RequestHeadersTimeoutMs", "2000",
    "--Limits:DataRateGraceMs", "2000")
{
    public const int PublisherClicksPerSecond = 100;
    public const int AddressRequestsBurst = 20;
    public const int AdvertiserQueriesPerSecond = 5;
}

public sealed class RateLimitTests(RateLimitServer fixture) : IClassFixture<RateLimitServer>
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    // Shorter than Kestrel's own 30 s headers timeout, so only the configured one (2 s here) can pass the test.
    private static readonly TimeSpan s_cutOffDeadline = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset s_minute = new(DateTimeOffset.UtcNow.AddMinutes(-3).Ticks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute, TimeSpan.Zero);

    private TollboothClient Admin => fixture.Admin;

    private static string Id(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task A_publisher_bursting_past_its_limit_gets_429_and_none_of_those_clicks_count_while_one_within_its_limit_is_served()
    {
        string advertiser = Id("rl-adv");
        string burstingAd = Id("rl-ad-a");
        string steadyAd = Id("rl-ad-b");
        string bursting = await Admin.CreateKeyAsync("publisher", Id("rl-pub-a"));
        string steady = await Admin.CreateKeyAsync("publisher", Id("rl-pub-b"));
        using HttpClient burstingClient = From("127.0.0.11");
        using HttpClient steadyClient = From("127.0.0.12");

        // The steady publisher: 20 clicks, then half a second's rest, ten times: 40 clicks a second against 100.
        async Task<List<string>> SendSteadilyAsync()
        {
            var problems = new List<string>();
            for (int request = 0; request < 10; request++)
            {
                using HttpResponseMessage response = await PostClicksAsync(steadyClient, steady, Clicks(steadyAd, advertiser, $"s{request}-", 20));
                string body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.Accepted || JsonDocument.Parse(body).RootElement.GetProperty("accepted").GetInt32() != 20)
                {
                    problems.Add($"request {request}: {(int)response.StatusCode} {body}");
                }

                await Task.Delay(500);
            }

            return problems;
        }

        // The bursting one: 20 requests of 100 clicks at once, twenty times its clicks a second.
        async Task<HttpResponseMessage[]> BurstAsync() =>
            await Task.WhenAll(Enumerable.Range(0, 20).Select(request => PostClicksAsync(burstingClient, bursting, Clicks(burstingAd, advertiser, $"b{request}-", 100))));

        Task<List<string>> steadyRun = SendSteadilyAsync();
        HttpResponseMessage[] burst = await BurstAsync();
        List<string> steadyProblems = await steadyRun;

        int acceptedOfBurst = 0;
        int limited = 0;
        foreach (HttpResponseMessage response in burst)
        {
            using (response)
            {
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    acceptedOfBurst += (await TollboothClient.JsonOf(response)).GetProperty("accepted").GetInt32();
                    continue;
                }

                await AssertRateLimitedAsync(response, "publisher", $"{RateLimitServer.PublisherClicksPerSecond} clicks a second");
                limited++;
            }
        }

        Assert.True(steadyProblems.Count == 0, "the publisher within its limit was refused: " + string.Join("; ", steadyProblems));
        Assert.True(limited > 0, "twenty times the publisher's limit at once and not one 429");
        await Admin.WaitForLagZeroAsync();
        Assert.Equal(acceptedOfBurst, await CountAsync(burstingAd));
        Assert.Equal(200, await CountAsync(steadyAd));

        // Once it waits as told, the publisher is served again.
        Assert.True(await ServedAgainAsync(() => PostClicksAsync(burstingClient, bursting, Clicks(burstingAd, advertiser, "again-", 10))), "the publisher was not served again after waiting Retry-After");
        string metrics = await (await Admin.SendAsync(HttpMethod.Get, "/metrics")).Content.ReadAsStringAsync();
        Assert.Contains("tollbooth_requests_rate_limited_total{limit=\"publisher\"}", metrics);
    }

    [Fact]
    public async Task Too_many_requests_from_one_address_get_429_while_another_address_is_served()
    {
        using HttpClient flooding = From("127.0.0.21");
        using HttpClient other = From("127.0.0.22");

        // Forged click links: 300 from one address, fifteen times its bucket, eight at a time.
        var statuses = new List<HttpResponseMessage>();
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < 300)
            {
                HttpResponseMessage response = await flooding.GetAsync("/v1/click/not-a-token");
                lock (statuses)
                {
                    statuses.Add(response);
                }
            }
        }));

        HttpResponseMessage? first = statuses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(first is not null, $"300 requests from one address against a bucket of {RateLimitServer.AddressRequestsBurst} and not one 429");
        await AssertRateLimitedAsync(first, "address", "10 requests a second");
        Assert.All(statuses, r => Assert.True(r.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.TooManyRequests, $"a forged link answered {(int)r.StatusCode}"));
        statuses.ForEach(r => r.Dispose());

        using (HttpResponseMessage fromOther = await other.GetAsync("/v1/click/not-a-token"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, fromOther.StatusCode);
        }

        Assert.True(await ServedAgainAsync(() => flooding.GetAsync("/v1/click/not-a-token")), "the address was not served again after waiting Retry-After");
    }

    [Fact]
    public async Task An_advertiser_over_its_query_limit_gets_429_while_another_advertiser_is_served()
    {
        string advertiser = Id("rl-adv-x");
        string greedy = await Admin.CreateKeyAsync("advertiser", advertiser);
        string modest = await Admin.CreateKeyAsync("advertiser", Id("rl-adv-y"));
        using HttpClient greedyClient = From("127.0.0.31");
        using HttpClient modestClient = From("127.0.0.32");

        // 40 queries at once against a bucket of 5: passing them all would take the server 7 seconds.
        HttpResponseMessage[] burst = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => GetAsync(greedyClient, greedy, "/v1/ads/popular_ads")));
        HttpResponseMessage? refused = burst.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(refused is not null, "forty queries at once against a limit of five a second and not one 429");
        await AssertRateLimitedAsync(refused, "advertiser", $"{RateLimitServer.AdvertiserQueriesPerSecond} requests a second");
        Assert.All(burst, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"a query answered {(int)r.StatusCode}"));
        Array.ForEach(burst, r => r.Dispose());

        for (int query = 0; query < 3; query++)
        {
            using HttpResponseMessage answer = await GetAsync(modestClient, modest, "/v1/ads/popular_ads");
            Assert.True(answer.StatusCode == HttpStatusCode.OK, $"another advertiser's query answered {(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
        }

        Assert.True(await ServedAgainAsync(() => GetAsync(greedyClient, greedy, "/v1/ads/popular_ads")), "the advertiser was not served again after waiting Retry-After");
    }

    [Theory]
    [InlineData("/v1/ads/AD/aggregated_count?from=2024-01-01T00:00:00Z&to=2025-06-01T00:00:00Z", "range_too_large", "366 days")]
    [InlineData("/ads/AD/aggregated_count?from=2024-01-01T00:00:00Z&to=2025-06-01T00:00:00Z", "range_too_large", "366 days")]
    [InlineData("/v1/aggregates?ad_id=AD&start=2026-01-01T00:00:00Z&end=2026-02-15T00:00:00Z", "range_too_large", "31 days")]
    [InlineData("/v1/aggregates?ad_id=AD&granularity=hour&start=2024-01-01T00:00:00Z&end=2025-06-01T00:00:00Z", "range_too_large", "An hour query spans at most 366 days")]
    [InlineData("/v1/aggregates?ad_id=AD&granularity=day&start=2010-01-01T00:00:00Z&end=2025-06-01T00:00:00Z", "range_too_large", "A day query spans at most 3660 days")]
    [InlineData("/v1/reconcile?ad_id=AD&from=2026-01-01T00:00:00Z&to=2026-02-15T00:00:00Z", "range_too_large", "31 days")]
    [InlineData("/v1/changes?limit=1001", "invalid_limit", "1000")]
    [InlineData("/v1/ads/popular_ads?count=1001", "invalid_count", "1000")]
    [InlineData("/v1/ads/popular_ads?window=1441", "invalid_window", "1440")]
    public async Task A_range_or_page_over_its_cap_answers_400_naming_the_maximum(string path, string code, string maximum)
    {
        string ad = Id("rl-cap-ad");
        using (HttpResponseMessage sent = await Admin.PostClicksAsync(JsonSerializer.Serialize(new { ad_id = ad, advertiser_id = Id("rl-cap-adv") })))
        {
            Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        }

        (HttpStatusCode status, JsonElement body) = await Admin.GetAsync(path.Replace("AD", ad, StringComparison.Ordinal));
        Assert.True(status == HttpStatusCode.BadRequest, $"{path} answered {(int)status}: {body}");
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.Contains(maximum, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_client_sending_its_headers_a_byte_at_a_time_is_cut_off()
    {
        // Headers that never end, a byte every 300 ms: only the server's headers timeout (2 s here) ends this.
        byte[] start = Encoding.ASCII.GetBytes("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        Assert.True(await IsCutOffAsync("127.0.0.41", start, (byte)'a'), "the server kept a connection whose headers never finished");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_client_trickling_its_body_is_cut_off()
    {
        // Whole headers, then a body of 100,000 bytes at a byte every 300 ms: far below the minimum rate once the grace (2 s here) is over.
        string publisher = await Admin.CreateKeyAsync("publisher", Id("rl-pub-slow"));
        byte[] start = Encoding.ASCII.GetBytes(
            $"POST /v1/clicks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {publisher}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n");
        Assert.True(await IsCutOffAsync("127.0.0.42", start, (byte)' '), "the server kept a connection whose body trickled in");
        await AssertStillServingAsync();
    }

    /// <summary>Sends <paramref name="start"/>, then one <paramref name="trickle"/> byte every 300 ms; true once the server closes the connection.</summary>
    private async Task<bool> IsCutOffAsync(string source, byte[] start, byte trickle)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, fixture.Server.Port));
        await socket.SendAsync(start);
        var buffer = new byte[4096];
        DateTime deadline = DateTime.UtcNow + s_cutOffDeadline;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                // An answer (such as 408) may come first; the connection counts as cut when the server ends it.
                while (socket.Poll(300_000, SelectMode.SelectRead))
                {
                    if (await socket.ReceiveAsync(buffer) == 0)
                    {
                        return true;
                    }
                }

                await socket.SendAsync(new[] { trickle });
            }
            catch (SocketException)
            {
                return true;
            }
        }

        return false;
    }

    private async Task AssertStillServingAsync()
    {
        (HttpStatusCode status, JsonElement _) = await Admin.GetAsync("/health/live", key: string.Empty);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    /// <summary>
    /// Repeats <paramref name="send"/>, waiting the Retry-After of each 429, until an answer is not a 429; false at
    /// the deadline. Each 429 on the way must still be a proper one.
    /// </summary>
    private static async Task<bool> ServedAgainAsync(Func<Task<HttpResponseMessage>> send)
    {
        DateTime deadline = DateTime.UtcNow + s_deadline;
        while (DateTime.UtcNow < deadline)
        {
            using HttpResponseMessage response = await send();
            if (response.StatusCode != HttpStatusCode.TooManyRequests)
            {
                return true;
            }

            TimeSpan wait = response.Headers.RetryAfter?.Delta ?? throw new InvalidOperationException("a 429 without Retry-After seconds");
            await Task.Delay(wait);
        }

        return false;
    }

    private static async Task AssertRateLimitedAsync(HttpResponseMessage response, string limit, string rate)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.TooManyRequests, $"expected 429, got {(int)response.StatusCode}: {text}");
        TimeSpan? retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.True(retryAfter is { } wait && wait >= TimeSpan.FromSeconds(1) && wait.Ticks % TimeSpan.TicksPerSecond == 0, $"Retry-After must be whole seconds, at least 1: {response.Headers.RetryAfter}");
        JsonElement body = JsonDocument.Parse(text).RootElement;
        Assert.Equal("rate_limited", body.GetProperty("code").GetString());
        string error = body.GetProperty("error").GetString()!;
        Assert.Contains(limit, error);
        Assert.Contains(rate, error);
        Assert.Contains($"retry after {(int)retryAfter!.Value.TotalSeconds} s", error);
        Assert.True(error.EndsWith('.') && error.IndexOf(". ", StringComparison.Ordinal) < 0 && !error.Contains('\n'), $"not one sentence: {error}");
    }

    private async Task<long> CountAsync(string ad) =>
        await Admin.CountAsync(ad, s_minute.ToString("yyyy-MM-dd'T'HH:mm:00'Z'"), s_minute.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'"));

    private static string Clicks(string ad, string advertiser, string prefix, int count) =>
        string.Join('\n', Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(new
        {
            click_id = $"{ad}-{prefix}{i}",
            ad_id = ad,
            advertiser_id = advertiser,
            timestamp = s_minute.AddSeconds(i % 60).ToUnixTimeMilliseconds(),
        })));

    private static Task<HttpResponseMessage> PostClicksAsync(HttpClient http, string key, string ndjson)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/clicks") { Content = new StringContent(ndjson, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-ndjson");
        request.Headers.Add("X-Api-Key", key);
        return http.SendAsync(request);
    }

    private static Task<HttpResponseMessage> GetAsync(HttpClient http, string key, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Api-Key", key);
        return http.SendAsync(request);
    }

    /// <summary>A client whose connections come from <paramref name="source"/> (a loopback address), so it has its own address bucket.</summary>
    private HttpClient From(string source) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 32,
        ConnectCallback = async (context, cancel) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancel);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = fixture.Server.BaseAddress,
        Timeout = s_deadline,
    };
}

// Goal: GET /metrics answers Prometheus text whose counters move by exactly what a client sent: clicks
// ingested, accepted, rejected by code, refused requests, processed by verdict, acknowledgements and HTTP
// requests. Method: one `tollbooth serve` child process of its own (no other test sends to it); scrape, send
// a known mix (rejected items, duplicates within and across requests, a bot, a body that is not JSON, a
// followed click link), wait
// (polling with a deadline) until lag is 0, scrape again and compare the differences exactly.
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class MetricsTests : IDisposable
{
    private static readonly string s_minute = DateTimeOffset.UtcNow.AddMinutes(-3).ToString("yyyy-MM-dd'T'HH:mm:00'Z'", CultureInfo.InvariantCulture);

    private readonly TollboothProcess _server;
    private readonly TollboothClient _admin;

    public MetricsTests()
    {
        _server = new TollboothProcess(null, "--Processing:CommitIntervalMs", "20", "--Log:Partitions", "4", "--Limits:DataRateGraceMs", "1500");
        _server.Start();
        _admin = new TollboothClient(_server.BaseAddress, TollboothProcess.AdminKey);
    }

    public void Dispose()
    {
        _admin.Dispose();
        _server.Dispose();
    }

    private static string Click(string clickId, string adId, string extra = "") =>
        $"{{\"click_id\":\"{clickId}\",\"ad_id\":\"{adId}\",\"advertiser_id\":\"adv1\",\"timestamp\":\"{s_minute}\"{extra}}}";

    [Fact]
    public async Task Metrics_counters_move_by_exactly_the_clicks_sent()
    {
        await _admin.WaitForLagZeroAsync();
        Dictionary<string, double> before = await ScrapeAsync();

        // Request 1: 8 items; 2 rejected (missing ad_id, bad device), 1 duplicate of an earlier item, 1 bot.
        string first = "[" + string.Join(',',
            Click("m1", "ad-a"),
            Click("m2", "ad-b"),
            Click("m3", "ad-c"),
            "{\"click_id\":\"m4\",\"advertiser_id\":\"adv1\"}",
            Click("m5", "ad-a", ",\"device\":\"toaster\""),
            Click("m1", "ad-a"),
            Click("m6", "ad-b", ",\"user_agent\":\"Googlebot/2.1\""),
            Click("m7", "ad-d")) + "]";
        await PostAsync(first, "application/json", HttpStatusCode.Accepted);

        // Request 2, NDJSON: 3 items; one re-sends m2 (a duplicate across requests), one more rejected.
        string second = string.Join('\n', Click("m2", "ad-b"), Click("m8", "ad-e"), Click("m9", "", "")) + "\n";
        await PostAsync(second, "application/x-ndjson", HttpStatusCode.Accepted);

        // Request 3: not JSON; refused whole, nothing in it counts as a click.
        await PostAsync("this is not json", "application/json", HttpStatusCode.BadRequest);

        // A followed click link: one more click, acknowledged with its redirect.
        await FollowClickLinkAsync();

        await _admin.WaitForLagZeroAsync();
        Dictionary<string, double> after = await ScrapeAsync();
        double Moved(string series) => after.GetValueOrDefault(series) - before.GetValueOrDefault(series);

        Assert.Equal(12, Moved("tollbooth_clicks_ingested_total"));
        Assert.Equal(9, Moved("tollbooth_clicks_accepted_total"));
        Assert.Equal(2, Moved("tollbooth_clicks_rejected_total{code=\"missing_ad_id\"}") + Moved("tollbooth_clicks_rejected_total{code=\"invalid_ad_id\"}"));
        Assert.Equal(1, Moved("tollbooth_clicks_rejected_total{code=\"invalid_device\"}"));
        Assert.Equal(3, SumMoved(before, after, "tollbooth_clicks_rejected_total{"));
        Assert.Equal(1, SumMoved(before, after, "tollbooth_click_requests_refused_total{"));
        Assert.Equal(6, Moved("tollbooth_clicks_processed_total{verdict=\"valid\"}"));
        Assert.Equal(2, Moved("tollbooth_clicks_processed_total{verdict=\"duplicate\"}"));
        Assert.Equal(1, Moved("tollbooth_clicks_processed_total{verdict=\"invalid\"}"));
        Assert.Equal(0, Moved("tollbooth_clicks_processed_total{verdict=\"too_late\"}"));
        Assert.Equal(3, Moved("tollbooth_ingest_ack_seconds_count"));
        Assert.True(Moved("tollbooth_log_fsync_seconds_count") >= 1, "no fsync was observed");
        Assert.True(Moved("tollbooth_commit_seconds_count") >= 1, "no commit was observed");
        Assert.Equal(2, SumMoved(before, after, "http_requests_received_total{code=\"202\",method=\"POST\""));
        for (int partition = 0; partition < 4; partition++)
        {
            Assert.Equal(0, after[$"tollbooth_lag_clicks{{partition=\"{partition}\"}}"]);
        }

        Assert.Contains(after.Keys, series => series.StartsWith("tollbooth_watermark_delay_seconds{partition=", StringComparison.Ordinal));
        Assert.Contains("http_request_duration_seconds_count", string.Join('\n', after.Keys));
    }

    [Fact]
    public async Task Metrics_need_an_admin_key_like_every_path_but_health()
    {
        using var anonymous = new TollboothClient(_server.BaseAddress, "");
        using HttpResponseMessage missing = await anonymous.SendAsync(HttpMethod.Get, "/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("missing_api_key", (await TollboothClient.JsonOf(missing)).GetProperty("code").GetString());

        string publisher = await _admin.CreateKeyAsync("publisher", "pub1");
        using HttpResponseMessage forbidden = await _admin.SendAsync(HttpMethod.Get, "/metrics", key: publisher);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        using var bearer = new HttpClient { BaseAddress = _server.BaseAddress };
        bearer.DefaultRequestHeaders.Authorization = new("Bearer", TollboothProcess.AdminKey);
        using HttpResponseMessage scraped = await bearer.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.StartsWith("text/plain", scraped.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        Assert.Contains("# TYPE tollbooth_clicks_accepted_total counter", await scraped.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_body_sent_too_slowly_answers_408_body_too_slow_and_is_counted_as_408_and_refused()
    {
        // issue 19: it answered 408 with code bad_request, was counted as code="200" and in no Tollbooth counter.
        Dictionary<string, double> before = await ScrapeAsync();
        string head = $"POST /v1/clicks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {TollboothProcess.AdminKey}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[";
        string answer = await RawExchangeAsync(head, trickle: true);

        Assert.True(answer.StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal), answer);
        Assert.True(answer.Contains("{\"error\":\"The request body arrived too slowly", StringComparison.Ordinal) && answer.Contains("\"code\":\"body_too_slow\"}", StringComparison.Ordinal), answer);
        Dictionary<string, double> after = await ScrapeAsync();
        Assert.Equal(1, SumMoved(before, after, "http_requests_received_total{code=\"408\",method=\"POST\""));
        Assert.Equal(0, SumMoved(before, after, "http_requests_received_total{code=\"200\",method=\"POST\""));
        Assert.Equal(1, after.GetValueOrDefault("tollbooth_click_requests_refused_total{code=\"body_too_slow\"}") - before.GetValueOrDefault("tollbooth_click_requests_refused_total{code=\"body_too_slow\"}"));
    }

    [Theory]
    [InlineData("GET /v1/%00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]
    [InlineData("GET /v1/a\0b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]
    [InlineData("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nNot a header\r\n\r\n")]
    public async Task A_request_kestrel_refuses_itself_gets_the_json_error_body_and_is_counted(string request)
    {
        // issue 19: Kestrel's own 400 had an empty body and appeared in no metric.
        Dictionary<string, double> before = await ScrapeAsync();
        string answer = await RawExchangeAsync(request, trickle: false);

        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/json; charset=utf-8\r\n", answer, StringComparison.Ordinal);
        JsonElement body = JsonDocument.Parse(answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]).RootElement;
        Assert.Equal("malformed_request", body.GetProperty("code").GetString());
        Assert.EndsWith(".", body.GetProperty("error").GetString());
        Dictionary<string, double> after = await ScrapeAsync();
        Assert.Equal(1, after["tollbooth_http_requests_refused_by_server_total{code=\"malformed_request\"}"] - before.GetValueOrDefault("tollbooth_http_requests_refused_by_server_total{code=\"malformed_request\"}"));
    }

    /// <summary>Sends <paramref name="request"/> on a raw connection (then, when trickling, a space every 300 ms) and returns all the server answers until it closes.</summary>
    private async Task<string> RawExchangeAsync(string request, bool trickle)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _server.Port));
        await socket.SendAsync(System.Text.Encoding.Latin1.GetBytes(request));
        var received = new List<byte>();
        var buffer = new byte[4096];
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (socket.Poll(300_000, System.Net.Sockets.SelectMode.SelectRead))
            {
                int read = await socket.ReceiveAsync(buffer);
                if (read == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, read));
            }
            else if (trickle && received.Count == 0)
            {
                await socket.SendAsync(new[] { (byte)' ' });
            }
        }

        return System.Text.Encoding.Latin1.GetString(received.ToArray());
    }

    private async Task FollowClickLinkAsync()
    {
        string request = JsonSerializer.Serialize(new { ad_id = "ad-link", advertiser_id = "adv1", landing_url = "https://example.com/landing" });
        using HttpResponseMessage issued = await _admin.SendAsync(HttpMethod.Post, "/v1/tokens", request);
        JsonElement token = await TollboothClient.JsonOf(issued);
        Assert.True(issued.StatusCode == HttpStatusCode.Created, $"POST /v1/tokens answered {(int)issued.StatusCode}: {token}");

        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.BaseAddress };
        using HttpResponseMessage followed = await browser.GetAsync(token.GetProperty("click_url").GetString());
        Assert.Equal(HttpStatusCode.Redirect, followed.StatusCode);
    }

    private async Task PostAsync(string body, string contentType, HttpStatusCode expected)
    {
        using HttpResponseMessage response = await _admin.PostClicksAsync(body, contentType);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        if (expected == HttpStatusCode.Accepted)
        {
            Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("accepted").GetInt32() > 0, text);
        }
    }

    private static double SumMoved(Dictionary<string, double> before, Dictionary<string, double> after, string prefix)
    {
        double sum = 0;
        foreach ((string series, double value) in after)
        {
            if (series.StartsWith(prefix, StringComparison.Ordinal))
            {
                sum += value - before.GetValueOrDefault(series);
            }
        }

        return sum;
    }

    /// <summary>Every sample of a scrape, keyed by its series as written (name and labels).</summary>
    private async Task<Dictionary<string, double>> ScrapeAsync()
    {
        using HttpResponseMessage response = await _admin.SendAsync(HttpMethod.Get, "/metrics");
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {text}");
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            int space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return samples;
    }
}

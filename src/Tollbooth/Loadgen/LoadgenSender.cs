using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tollbooth.Loadgen;

/// <summary>
/// Sends the workload: <c>Connections</c> senders post NDJSON batches, paced to the rate (or as fast as
/// acknowledgements come), and, with an admin key, one more follows signed click links. Every answer
/// moves the truth: a 202's accepted items, a link's 302 or its 403 for a bad signature. A request whose
/// answer is lost is sent again as it was (same click ids), so nothing is lost and the only doubt left is
/// how many copies the server received.
/// </summary>
public sealed class LoadgenSender
{
    /// <summary>One signed click link per this many generated clicks.</summary>
    private const int ClicksPerLink = 100;
    private const int AttemptsMax = 20;

    private readonly HttpClient _http;
    private readonly LoadgenOptions _options;
    private readonly LoadgenWorkload _workload;
    private readonly LoadgenTruth _truth;
    private readonly bool _admin;
    private readonly Stopwatch _clock = new();
    private readonly CancellationTokenSource _stop = new();
    private long _reserved;
    private long _paced;
    private long _acknowledged;
    private long _rejected;
    private long _retried;
    private volatile bool _sendersDone;
    private string? _failure;

    public LoadgenSender(HttpClient http, LoadgenOptions options, LoadgenWorkload workload, LoadgenTruth truth, bool admin)
    {
        _http = http;
        _options = options;
        _workload = workload;
        _truth = truth;
        _admin = admin;
    }

    public AckLatencies Latencies { get; } = new();

    public TimeSpan Elapsed => _clock.Elapsed;

    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Why sending stopped early, in one sentence; null when it ran its course.</summary>
    public string? Failure => Volatile.Read(ref _failure);

    private bool Stopping => _stop.IsCancellationRequested || (_options.Duration > TimeSpan.Zero && _clock.Elapsed >= _options.Duration);

    /// <summary>Stops sending new clicks; requests in flight finish and are counted.</summary>
    public void Stop() => _stop.Cancel();

    public async Task RunAsync()
    {
        _clock.Start();
        var senders = new Task[_options.Connections];
        for (int i = 0; i < senders.Length; i++)
        {
            senders[i] = Task.Run(() => RunGuardedAsync(SendBatchesAsync));
        }

        Task links = _admin ? Task.Run(() => RunGuardedAsync(FollowLinksAsync)) : Task.CompletedTask;
        await Task.WhenAll(senders);
        _sendersDone = true;
        await links;
        _clock.Stop();
    }

    // An answer loadgen cannot read stops the run with one sentence instead of a stack trace.
    private async Task RunGuardedAsync(Func<Task> work)
    {
        try
        {
            await work();
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException)
        {
            Fail($"the server's answer could not be used ({exception.Message}): check that {_options.Url} is Tollbooth and healthy.");
        }
    }

    private async Task SendBatchesAsync()
    {
        var clicks = new List<LoadClick>(_options.BatchClicks);
        var body = new ArrayBufferWriter<byte>(_options.BatchClicks * 512);
        while (!Stopping)
        {
            int count = Reserve();
            if (count == 0 || !await PaceAsync(count))
            {
                return;
            }

            clicks.Clear();
            body.ResetWrittenCount();
            _workload.Next(count, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), clicks);
            _workload.WriteNdjson(clicks, _admin, body);
            await PostAsync(clicks, body.WrittenMemory);
        }
    }

    // The budget of --clicks, shared by every sender.
    private int Reserve()
    {
        if (_options.ClicksMax == 0)
        {
            return _options.BatchClicks;
        }

        while (true)
        {
            long reserved = Interlocked.Read(ref _reserved);
            int count = (int)Math.Min(_options.BatchClicks, _options.ClicksMax - reserved);
            if (count <= 0)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref _reserved, reserved + count, reserved) == reserved)
            {
                return count;
            }
        }
    }

    // Waits until the rate allows these clicks; false when stopped meanwhile.
    private async Task<bool> PaceAsync(int count)
    {
        if (_options.RatePerSecond == 0)
        {
            return true;
        }

        long due = Interlocked.Add(ref _paced, count);
        TimeSpan wait = TimeSpan.FromSeconds((double)due / _options.RatePerSecond) - _clock.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(wait, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return !Stopping;
    }

    private async Task PostAsync(List<LoadClick> clicks, ReadOnlyMemory<byte> body)
    {
        for (int attempt = 1; attempt <= AttemptsMax; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/clicks") { Content = new ReadOnlyMemoryContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            long started = Stopwatch.GetTimestamp();
            HttpResponseMessage response;
            try
            {
                // Never cancelled in flight: an answer cut off would leave the truth in doubt.
                response = await _http.SendAsync(request, CancellationToken.None);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                _truth.AddUncertain(clicks.Count);
                await RetryLaterAsync(TimeSpan.FromMilliseconds(500));
                continue;
            }

            using (response)
            {
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    Latencies.Record(Stopwatch.GetElapsedTime(started));
                    await AcknowledgeAsync(clicks, response);
                    return;
                }

                if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests)
                {
                    // Nothing of the request was accepted: send it again later, or drop it when stopping.
                    if (Stopping)
                    {
                        return;
                    }

                    await RetryLaterAsync(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                    continue;
                }

                Fail($"the server answered {(int)response.StatusCode} to POST /v1/clicks: {await ErrorOf(response)}");
                return;
            }
        }

        Fail($"POST /v1/clicks got no answer in {AttemptsMax} attempts: check that the server at {_options.Url} is up.");
    }

    private async Task AcknowledgeAsync(List<LoadClick> clicks, HttpResponseMessage response)
    {
        using JsonDocument answer = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
        var rejected = new bool[clicks.Count];
        int rejectedCount = 0;
        foreach (JsonElement item in answer.RootElement.GetProperty("rejected").EnumerateArray())
        {
            int index = item.GetProperty("index").GetInt32();
            rejectedCount += rejected[index] ? 0 : 1;
            rejected[index] = true;
        }

        for (int i = 0; i < clicks.Count; i++)
        {
            if (!rejected[i])
            {
                _truth.Acknowledge(clicks[i]);
            }
        }

        Interlocked.Add(ref _acknowledged, clicks.Count - rejectedCount);
        Interlocked.Add(ref _rejected, rejectedCount);
    }

    private async Task FollowLinksAsync()
    {
        var random = new Random(_options.Seed ^ 0x1ee7);
        var linksPerAd = new int[_workload.AdCount];
        long links = 0;
        while (!Stopping && Failure is null)
        {
            if (_workload.Generated < (links + 1) * ClicksPerLink)
            {
                if (_sendersDone)
                {
                    return;
                }

                await Task.Delay(20);
                continue;
            }

            links++;
            int ad = _workload.DrawAd(random);
            bool tampered = random.Next(10) == 0;
            bool reloaded = random.Next(4) == 0;
            int publisher = random.Next(LoadgenWorkload.PublisherCount);
            if (!tampered && linksPerAd[ad] >= _truth.LinkClicksPerAdMax)
            {
                continue;
            }

            linksPerAd[ad] += tampered ? 0 : 1;
            await FollowLinkAsync(ad, publisher, tampered, reloaded ? 2 : 1);
        }
    }

    private async Task FollowLinkAsync(int ad, int publisher, bool tampered, int times)
    {
        using HttpResponseMessage issued = await _http.PostAsJsonAsync("v1/tokens", new Dictionary<string, object>
        {
            ["ad_id"] = _workload.AdId(ad),
            ["advertiser_id"] = _workload.AdvertiserId(ad),
            ["campaign_id"] = _workload.CampaignId(ad),
            ["publisher_id"] = LoadgenWorkload.PublisherId(publisher),
            ["cost_micros"] = _workload.PriceMicros(ad),
            ["landing_url"] = $"https://shop.example/{_workload.AdId(ad)}",
            ["ttl_seconds"] = 3600,
        });
        if (issued.StatusCode != HttpStatusCode.Created)
        {
            Fail($"the server answered {(int)issued.StatusCode} to POST /v1/tokens: {await ErrorOf(issued)}");
            return;
        }

        using JsonDocument token = await JsonDocument.ParseAsync(await issued.Content.ReadAsStreamAsync());
        string text = token.RootElement.GetProperty("token").GetString()!;
        string clickId = token.RootElement.GetProperty("click_id").GetString()!;
        string url = "v1/click/" + (tampered ? Tamper(text) : text);
        for (int i = 0; i < times; i++)
        {
            if (!await FollowOnceAsync(ad, url, clickId, tampered))
            {
                return;
            }
        }
    }

    private async Task<bool> FollowOnceAsync(int ad, string url, string clickId, bool tampered)
    {
        for (int attempt = 1; attempt <= AttemptsMax; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("User-Agent", LoadgenWorkload.BrowserAgent(ad));
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, CancellationToken.None);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                _truth.AddUncertain(1);
                await RetryLaterAsync(TimeSpan.FromMilliseconds(500));
                continue;
            }

            using (response)
            {
                bool expected = tampered
                    ? response.StatusCode == HttpStatusCode.Forbidden && (await response.Content.ReadAsStringAsync()).Contains("\"token_bad_signature\"", StringComparison.Ordinal)
                    : response.StatusCode == HttpStatusCode.Redirect;
                if (expected)
                {
                    _truth.AcknowledgeLink(ad, clickId, tampered);
                    Interlocked.Increment(ref _acknowledged);
                    return true;
                }

                if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests)
                {
                    await RetryLaterAsync(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                    continue;
                }

                Fail($"the server answered {(int)response.StatusCode} to a {(tampered ? "tampered" : "signed")} click link, where loadgen expected {(tampered ? "403 token_bad_signature" : "302")}.");
                return false;
            }
        }

        Fail($"a click link got no answer in {AttemptsMax} attempts: check that the server at {_options.Url} is up.");
        return false;
    }

    // Changes the last byte of the signature: the token still names its ad, so the click counts as bad_token.
    private static string Tamper(string token)
    {
        byte[] bytes = Base64Url.DecodeFromChars(token);
        bytes[^1] ^= 0x5a;
        return Base64Url.EncodeToString(bytes);
    }

    private async Task RetryLaterAsync(TimeSpan delay)
    {
        Interlocked.Increment(ref _retried);
        await Task.Delay(delay);
    }

    private void Fail(string message)
    {
        Interlocked.CompareExchange(ref _failure, message, null);
        _stop.Cancel();
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        try
        {
            using JsonDocument error = JsonDocument.Parse(body);
            return error.RootElement.TryGetProperty("error", out JsonElement text) ? text.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body.Length <= 200 ? body : body[..200];
        }
    }
}

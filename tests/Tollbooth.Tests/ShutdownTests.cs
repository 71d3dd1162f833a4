// Goal: SIGTERM while clients are sending loses nothing acknowledged: the process stops accepting, lets the
// requests in flight finish, commits, and exits 0 within its shutdown bound; every click that got a 202 is
// counted once after a restart, and again after `tollbooth replay`. Method: a real `tollbooth serve` child
// process; concurrent clients each send requests of 5 clicks for an ad of their own (one ad per request, so a
// request is counted whole or not at all); SIGTERM once enough was acknowledged; then restart and compare the
// per-ad counts (one aggregates query grouped by ad) with what the clients were told.
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class ShutdownTests
{
    private const int ClicksPerRequest = 5;
    private const int Clients = 6;
    private const int ShutdownTimeoutMs = 10_000;
    private static readonly DateTimeOffset s_minute = new(DateTimeOffset.UtcNow.AddMinutes(-3).Ticks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute, TimeSpan.Zero);

    [Fact]
    public async Task Sigterm_under_load_exits_0_and_every_acknowledged_click_is_counted_after_restart_and_replay()
    {
        string advertiser = "adv-" + Guid.NewGuid().ToString("N")[..8];
        using var server = new TollboothProcess(
            null,
            "--Log:Partitions", "2",
            "--Processing:CommitIntervalMs", "20",
            "--ShutdownTimeoutMs", ShutdownTimeoutMs.ToString(CultureInfo.InvariantCulture));
        server.Start();

        var acknowledged = new ConcurrentDictionary<string, bool>();
        int acknowledgedClicks = 0;
        using var load = new CancellationTokenSource();
        Task[] clients = Enumerable.Range(0, Clients)
            .Select(client => Task.Run(() => SendUntilRefusedAsync(server.BaseAddress, advertiser, client, acknowledged, () => Interlocked.Add(ref acknowledgedClicks, ClicksPerRequest), load.Token)))
            .ToArray();

        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (Volatile.Read(ref acknowledgedClicks) < 500 && DateTime.UtcNow < deadline && !clients.All(c => c.IsCompleted))
        {
            await Task.Delay(10);
        }

        Assert.True(Volatile.Read(ref acknowledgedClicks) >= 500, $"the clients got only {acknowledgedClicks} clicks acknowledged before the deadline.\n{server.Output}");
        int exitCode = server.Terminate(TimeSpan.FromMilliseconds(ShutdownTimeoutMs) + TimeSpan.FromSeconds(30));
        Assert.True(exitCode == 0, $"tollbooth exited {exitCode} after SIGTERM.\n{server.Output}");
        Assert.Contains("stopping: no new requests", server.Output);
        Assert.Contains("stopped: ", server.Output);
        load.Cancel();
        await Task.WhenAll(clients);

        server.Start();
        using (var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            await admin.WaitForLagZeroAsync();
            await AssertEveryAcknowledgedAdCountedOnceAsync(admin, advertiser, acknowledged.Keys);
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(60)));
        (int replayExit, string _, string replayError) = TollboothProcess.RunVerb("replay", "--data", server.DataDirectory, "--Log:Partitions", "2");
        Assert.True(replayExit == 0, $"replay exited {replayExit}: {replayError}");

        server.Start();
        using (var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            await admin.WaitForLagZeroAsync();
            await AssertEveryAcknowledgedAdCountedOnceAsync(admin, advertiser, acknowledged.Keys);
        }
    }

    /// <summary>Sends requests of one new ad each until the server stops answering 202 (it is shutting down).</summary>
    private static async Task SendUntilRefusedAsync(Uri baseAddress, string advertiser, int client, ConcurrentDictionary<string, bool> acknowledged, Action counted, CancellationToken stop)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        for (int request = 0; !stop.IsCancellationRequested; request++)
        {
            string ad = $"ad-{client}-{request}";
            var body = new StringBuilder("[");
            for (int i = 0; i < ClicksPerRequest; i++)
            {
                body.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $"{{\"click_id\":\"{ad}-{i}\",\"ad_id\":\"{ad}\",\"advertiser_id\":\"{advertiser}\",\"timestamp\":\"{s_minute:yyyy-MM-dd'T'HH:mm:ss'Z'}\"}}");
            }

            using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/clicks") { Content = new StringContent(body.Append(']').ToString(), Encoding.UTF8, "application/json") };
            message.Headers.Add("X-Api-Key", TollboothProcess.AdminKey);
            try
            {
                using HttpResponseMessage response = await http.SendAsync(message, stop);
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    return;
                }

                acknowledged[ad] = true;
                counted();
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
            {
                // Refused or cut off while the server stops: not acknowledged, so it may or may not be counted.
                return;
            }
        }
    }

    private static async Task AssertEveryAcknowledgedAdCountedOnceAsync(TollboothClient admin, string advertiser, ICollection<string> acknowledged)
    {
        string start = s_minute.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        string end = s_minute.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        (HttpStatusCode status, JsonElement body) = await admin.GetAsync($"/v1/aggregates?advertiser_id={advertiser}&start={start}&end={end}&group_by=ad_id");
        Assert.True(status == HttpStatusCode.OK, $"aggregates answered {(int)status}: {body}");
        var counted = new Dictionary<string, long>();
        foreach (JsonElement window in body.GetProperty("windows").EnumerateArray())
        {
            counted[window.GetProperty("ad_id").GetString()!] = window.GetProperty("clicks").GetInt64();
            Assert.Equal(0, window.GetProperty("duplicate_clicks").GetInt64());
        }

        var missing = acknowledged.Where(ad => counted.GetValueOrDefault(ad) != ClicksPerRequest).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged requests are not counted whole, for example {string.Join(", ", missing.Take(5).Select(ad => $"{ad}: {counted.GetValueOrDefault(ad)}"))}");
        Assert.All(counted, pair => Assert.Equal(ClicksPerRequest, pair.Value));
    }
}

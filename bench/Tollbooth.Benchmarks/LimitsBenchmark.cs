using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Tenant isolation under the rate limits, through the real `tollbooth serve` with publisher limits of
/// 10,000 clicks/s each: tenant B sends 100-click requests at 40% of its limit and its request latency is
/// measured alone (the baseline), then while tenant A sends 1,000-click requests at ten times its limit, then
/// the same burst against a server with the limits off. Each tenant connects from its own loopback address.
/// Senders are open-loop (requests start on a schedule, not when the previous one ends), so a slow server
/// cannot slow the burst down and hide its cost.
/// </summary>
public static class LimitsBenchmark
{
    private const string AdminKey = "tb_bench_admin_key_0123456789";
    private const int LimitClicksPerSecond = 10_000;
    private const int SteadyClicksPerRequest = 100;
    private const int SteadyRequestsPerSecond = 40;
    private const int BurstClicksPerRequest = 1_000;
    private const int BurstRequestsPerSecond = 10 * LimitClicksPerSecond / BurstClicksPerRequest;

    public static async Task RunAsync(ResultTable table, string programPath, TimeSpan duration)
    {
        string[] limited = ["--Limits:PublisherClicksPerSecond", $"{LimitClicksPerSecond}", "--Limits:PublisherClicksBurst", $"{LimitClicksPerSecond}"];
        (Phase alone, Phase burst) = await WithServerAsync(programPath, limited, async (address, steadyKey, burstKey) =>
            (await MeasureAsync(address, steadyKey, null, duration), await MeasureAsync(address, steadyKey, burstKey, duration)));
        (_, Phase unlimited) = await WithServerAsync(programPath, ["--Limits:PublisherClicksPerSecond", "0"], async (address, steadyKey, burstKey) =>
            (default(Phase), await MeasureAsync(address, steadyKey, burstKey, duration)));

        table.Add($"tenant B's p99 (100-click requests, {SteadyRequestsPerSecond}/s) while tenant A sends 10x its limit of {LimitClicksPerSecond:N0} clicks/s", burst.SteadyP99, alone.SteadyP99, "tenant B alone", "ms", higherIsBetter: false);
        table.Note("  tenant B p50 / p99: alone; A bursting, limits on; A bursting, limits off",
            $"{alone.SteadyP50:0.0} / {alone.SteadyP99:0.0} ms; {burst.SteadyP50:0.0} / {burst.SteadyP99:0.0} ms; {unlimited.SteadyP50:0.0} / {unlimited.SteadyP99:0.0} ms");
        table.Note("  tenant B p99 under A's burst / alone (the goal: at most 2)", $"{burst.SteadyP99 / alone.SteadyP99:0.00} (limits on), {unlimited.SteadyP99 / alone.SteadyP99:0.00} (limits off)");
        table.Note("  tenant A: clicks/s offered, admitted, share of requests answered 429 (limits on)",
            $"{burst.BurstOfferedPerSecond:N0}, {burst.BurstAdmittedPerSecond:N0}, {burst.BurstLimitedShare:P0}");
        table.Note("  tenant A: clicks/s offered, admitted (limits off)", $"{unlimited.BurstOfferedPerSecond:N0}, {unlimited.BurstAdmittedPerSecond:N0}");
        table.Note("  tenant B requests refused (must be 0)", $"{alone.SteadyRefused}, {burst.SteadyRefused}, {unlimited.SteadyRefused}");
    }

    private readonly record struct Phase(
        double SteadyP50, double SteadyP99, int SteadyRefused, double BurstOfferedPerSecond, double BurstAdmittedPerSecond, double BurstLimitedShare);

    private static async Task<(Phase, Phase)> WithServerAsync(string programPath, string[] flags, Func<Uri, string, string, Task<(Phase, Phase)>> measure)
    {
        string data = Path.Combine(Path.GetTempPath(), "tollbooth-bench-" + Guid.NewGuid().ToString("N"));
        int port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])[programPath, "serve", "--data", data, "--urls", $"http://127.0.0.1:{port}", .. flags])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["TOLLBOOTH_ADMIN_KEY"] = AdminKey;
        using Process server = Process.Start(start)!;
        try
        {
            await WaitListeningAsync(server);
            var address = new Uri($"http://127.0.0.1:{port}");
            using var admin = new HttpClient { BaseAddress = address };
            admin.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
            return await measure(address, await CreatePublisherAsync(admin, "tenant-b"), await CreatePublisherAsync(admin, "tenant-a"));
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            server.WaitForExit();
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<Phase> MeasureAsync(Uri address, string steadyKey, string? burstKey, TimeSpan duration)
    {
        using HttpClient steadyClient = From("127.0.0.3", address);
        using HttpClient burstClient = From("127.0.0.2", address);
        string run = Guid.NewGuid().ToString("N")[..6];
        byte[][] steadyBodies = Bodies("b" + run, SteadyClicksPerRequest, 64);
        byte[][] burstBodies = Bodies("a" + run, BurstClicksPerRequest, 32);
        TimeSpan warmup = TimeSpan.FromSeconds(2);
        var clock = Stopwatch.StartNew();
        var steadyLatencies = new List<double>();
        int steadyRefused = 0;
        long burstOffered = 0;
        long burstAdmitted = 0;
        long burstRequests = 0;
        long burstLimited = 0;
        Task steady = PaceAsync(clock, warmup + duration, SteadyRequestsPerSecond, 8, async i =>
        {
            (HttpStatusCode status, double ms) = await PostAsync(steadyClient, steadyKey, steadyBodies[i % steadyBodies.Length]);
            if (clock.Elapsed < warmup)
            {
                return;
            }

            lock (steadyLatencies)
            {
                steadyLatencies.Add(ms);
                steadyRefused += status == HttpStatusCode.Accepted ? 0 : 1;
            }
        });
        Task burst = burstKey is null ? Task.CompletedTask : PaceAsync(clock, warmup + duration, BurstRequestsPerSecond, 32, async i =>
        {
            (HttpStatusCode status, double _) = await PostAsync(burstClient, burstKey, burstBodies[i % burstBodies.Length]);
            if (clock.Elapsed < warmup)
            {
                return;
            }

            Interlocked.Increment(ref burstRequests);
            Interlocked.Add(ref burstOffered, BurstClicksPerRequest);
            Interlocked.Add(ref burstAdmitted, status == HttpStatusCode.Accepted ? BurstClicksPerRequest : 0);
            Interlocked.Add(ref burstLimited, status == HttpStatusCode.TooManyRequests ? 1 : 0);
        });
        await Task.WhenAll(steady, burst);
        double seconds = (clock.Elapsed - warmup).TotalSeconds;
        double[] sorted = steadyLatencies.Order().ToArray();
        return new Phase(
            Percentile(sorted, 0.50),
            Percentile(sorted, 0.99),
            steadyRefused,
            burstOffered / seconds,
            burstAdmitted / seconds,
            burstRequests == 0 ? 0 : (double)burstLimited / burstRequests);
    }

    /// <summary>Starts request i at i / rate seconds, at most <paramref name="inFlightMax"/> at once, until <paramref name="until"/>.</summary>
    private static async Task PaceAsync(Stopwatch clock, TimeSpan until, int perSecond, int inFlightMax, Func<int, Task> send)
    {
        using var slots = new SemaphoreSlim(inFlightMax);
        var running = new List<Task>();
        for (int i = 0; ; i++)
        {
            TimeSpan due = TimeSpan.FromSeconds((double)i / perSecond);
            if (due >= until)
            {
                break;
            }

            if (due > clock.Elapsed)
            {
                await Task.Delay(due - clock.Elapsed);
            }

            await slots.WaitAsync();
            int index = i;
            running.Add(Task.Run(async () =>
            {
                try
                {
                    await send(index);
                }
                finally
                {
                    slots.Release();
                }
            }));
        }

        await Task.WhenAll(running);
    }

    private static async Task<(HttpStatusCode Status, double Ms)> PostAsync(HttpClient http, string key, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/clicks") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        request.Headers.Add("X-Api-Key", key);
        long before = Stopwatch.GetTimestamp();
        using HttpResponseMessage response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        double ms = Stopwatch.GetElapsedTime(before).TotalMilliseconds;
        if (response.StatusCode is not (HttpStatusCode.Accepted or HttpStatusCode.TooManyRequests))
        {
            throw new InvalidOperationException($"tollbooth answered {(int)response.StatusCode} to a tenant's clicks.");
        }

        return (response.StatusCode, ms);
    }

    // Clicks without publisher_id: the key's publisher is stamped on them.
    private static byte[][] Bodies(string prefix, int clicksPerRequest, int count)
    {
        var random = new Random(11);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return Enumerable.Range(0, count).Select(request =>
        {
            var text = new StringBuilder(clicksPerRequest * 120);
            for (int i = 0; i < clicksPerRequest; i++)
            {
                int ad = random.Next(1000);
                text.Append(JsonSerializer.Serialize(new { click_id = $"{prefix}-{request}-{i}", ad_id = $"{prefix}-ad{ad}", advertiser_id = $"{prefix}-adv{ad % 20}", user_id = $"u{random.Next(100_000)}", timestamp = now })).Append('\n');
            }

            return Encoding.UTF8.GetBytes(text.ToString());
        }).ToArray();
    }

    private static async Task<string> CreatePublisherAsync(HttpClient admin, string publisher)
    {
        using HttpResponseMessage created = await admin.PostAsync("/v1/keys", new StringContent(JsonSerializer.Serialize(new { role = "publisher", publisher_id = publisher }), Encoding.UTF8, "application/json"));
        created.EnsureSuccessStatusCode();
        using JsonDocument body = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>A client whose connections come from <paramref name="source"/>, a loopback address of its own.</summary>
    private static HttpClient From(string source, Uri address) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 64,
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
        BaseAddress = address,
        Timeout = TimeSpan.FromSeconds(60),
    };

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static async Task WaitListeningAsync(Process server)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("listening on", StringComparison.Ordinal))
            {
                // Keep draining its output so it never blocks on a full pipe.
                _ = server.StandardOutput.ReadToEndAsync();
                _ = server.StandardError.ReadToEndAsync();
                return;
            }
        }

        throw new InvalidOperationException("tollbooth exited before listening: " + await server.StandardError.ReadToEndAsync());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Batched ingest with durable acknowledgement through the real `tollbooth serve` (a child process, its
/// own data directory, default settings): 1,000 clicks per request, several senders, only 202-acknowledged
/// clicks counted. Baseline: a bare Kestrel endpoint in this process that reads the same bodies and
/// answers 202, driven by the same senders.
/// </summary>
public static class IngestBenchmark
{
    private const string AdminKey = "tb_bench_admin_key_0123456789";
    private const int ClicksPerRequest = 1000;
    private const int Senders = 16;

    public static async Task RunAsync(ResultTable table, string programPath, TimeSpan duration)
    {
        foreach (bool ndjson in new[] { true, false })
        {
            string format = ndjson ? "NDJSON" : "JSON array";
            string[] bodies = Bodies(ndjson, 48);
            (double baseline, _, _) = await MeasureBareKestrelAsync(bodies, ndjson, duration);
            (double clicks, double p50, double p99) = await MeasureTollboothAsync(programPath, bodies, ndjson, duration);
            table.Add($"batched ingest, durable ack, {ClicksPerRequest} clicks/request, {format}", clicks, baseline, "bare Kestrel reading the body", "clicks/s");
            table.Note($"  request latency p50 / p99 ({format}, {Senders} senders)", $"{p50:0.0} / {p99:0.0} ms");
        }
    }

    private static string[] Bodies(bool ndjson, int count)
    {
        var workload = new Workload(seed: 7);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string run = "r" + Guid.NewGuid().ToString("N")[..6] + "-";
        return Enumerable.Range(0, count).Select(_ => workload.Body(ClicksPerRequest, now, ndjson, run)).ToArray();
    }

    private static async Task<(double ClicksPerSecond, double P50, double P99)> MeasureTollboothAsync(string programPath, string[] bodies, bool ndjson, TimeSpan duration)
    {
        string data = Path.Combine(Path.GetTempPath(), "tollbooth-bench-" + Guid.NewGuid().ToString("N"));
        int port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { programPath, "serve", "--data", data, "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["TOLLBOOTH_ADMIN_KEY"] = AdminKey;
        using Process server = Process.Start(start)!;
        try
        {
            await WaitListeningAsync(server);
            return await DriveAsync(new Uri($"http://127.0.0.1:{port}"), bodies, ndjson, duration);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            server.WaitForExit();
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<(double ClicksPerSecond, double P50, double P99)> MeasureBareKestrelAsync(string[] bodies, bool ndjson, TimeSpan duration)
    {
        int port = FreePort();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        await using WebApplication app = builder.Build();
        app.MapPost("/v1/clicks", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            string body = await reader.ReadToEndAsync();
            return Results.Json(new { accepted = body.Length > 0 ? ClicksPerRequest : 0 }, statusCode: 202);
        });
        await app.StartAsync();
        try
        {
            return await DriveAsync(new Uri($"http://127.0.0.1:{port}"), bodies, ndjson, duration);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static async Task<(double ClicksPerSecond, double P50, double P99)> DriveAsync(Uri address, string[] bodies, bool ndjson, TimeSpan duration)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Senders }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
        string contentType = ndjson ? "application/x-ndjson" : "application/json";
        byte[][] payloads = bodies.Select(Encoding.UTF8.GetBytes).ToArray();
        TimeSpan warmup = TimeSpan.FromSeconds(2);
        var clock = Stopwatch.StartNew();
        long acknowledged = 0;
        var latencies = new List<double>[Senders];
        async Task Send(int sender)
        {
            latencies[sender] = new List<double>();
            for (int i = sender; clock.Elapsed < warmup + duration; i += Senders)
            {
                using var content = new ByteArrayContent(payloads[i % payloads.Length]);
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
                long before = Stopwatch.GetTimestamp();
                using HttpResponseMessage response = await http.PostAsync("/v1/clicks", content);
                double ms = Stopwatch.GetElapsedTime(before).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"{address} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }

                if (clock.Elapsed > warmup)
                {
                    Interlocked.Add(ref acknowledged, ClicksPerRequest);
                    latencies[sender].Add(ms);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Senders).Select(Send));
        double seconds = (clock.Elapsed - warmup).TotalSeconds;
        double[] all = latencies.SelectMany(l => l).Order().ToArray();
        return (acknowledged / seconds, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static async Task WaitListeningAsync(Process server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            string? line = await server.StandardOutput.ReadLineAsync();
            if (line is null)
            {
                throw new InvalidOperationException("tollbooth exited before listening: " + await server.StandardError.ReadToEndAsync());
            }

            if (line.StartsWith("listening on", StringComparison.Ordinal))
            {
                // Keep draining its output so it never blocks on a full pipe.
                _ = server.StandardOutput.ReadToEndAsync();
                _ = server.StandardError.ReadToEndAsync();
                return;
            }
        }

        throw new TimeoutException("tollbooth did not start listening within 60 s.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

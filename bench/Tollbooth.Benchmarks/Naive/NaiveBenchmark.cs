using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Npgsql;
using Tollbooth.Tests;

namespace Tollbooth.Benchmarks.Naive;

/// <summary>
/// Issue 6: Tollbooth against the seed's naive design (<c>serve --engine naive</c> on a local PostgreSQL 15 that this
/// benchmark starts on a free port) and against the ceiling (a bare Kestrel endpoint), in one run, on the same
/// cores as the load generator: single-click requests with wrk, batched ingest, and what each design does to
/// counts when clients resend and when the database (naive) or the process (Tollbooth, kill -9) goes away for 10 s.
/// </summary>
public static class NaiveBenchmark
{
    private const string Key = TollboothProcess.AdminKey;
    private const int ClicksPerRequest = 1000;

    public static async Task<string> RunAsync(TimeSpan duration)
    {
        var table = new ComparisonTable();
        using PostgresCluster postgres = PostgresCluster.Start();
        Console.WriteLine($"  PostgreSQL 15 on 127.0.0.1:{postgres.Port}");
        await Measured(table, "single clicks", () => SingleClicksAsync(table, postgres, duration));
        await Measured(table, "batches", () => BatchesAsync(table, postgres, duration));
        await Measured(table, "click to queryable", () => FreshnessAsync(table, postgres, duration));
        await Measured(table, "resends", () => ResendsAsync(table, postgres, duration));
        await Measured(table, "outage", () => OutageAsync(table, postgres));
        return table.ToMarkdown();
    }

    /// <summary>Only the click-to-queryable row (`bench/run freshness`), Tollbooth against the naive design.</summary>
    public static async Task<string> FreshnessOnlyAsync(TimeSpan duration)
    {
        var table = new ComparisonTable();
        using PostgresCluster postgres = PostgresCluster.Start();
        await Measured(table, "click to queryable", () => FreshnessAsync(table, postgres, duration));
        return table.ToMarkdown();
    }

    /// <summary>One part failing (a server that would not start, a tool missing) is shown in the table, and the others still run.</summary>
    private static async Task Measured(ComparisonTable table, string what, Func<Task> measure)
    {
        try
        {
            await measure();
        }
        catch (Exception exception) when (exception is InvalidOperationException or HttpRequestException or TaskCanceledException or NpgsqlException or IOException or TimeoutException)
        {
            Console.Error.WriteLine($"error: the {what} measurement failed: {exception}");
            table.Text($"{what}: not measured ({exception.GetType().Name}: {exception.Message.Split('\n')[0]})", "", "");
        }
    }

    // Each server first takes this much unmeasured load, so the measured seconds are not the JIT's warm-up (a fresh
    // process spent ~12% of a 10-second single-click run compiling); warm-up clicks carry their own ids.
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(3);

    private static byte[][] WarmUpBodies(bool ndjson)
    {
        var workload = new Workload(seed: 12);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return Enumerable.Range(0, 8).Select(_ => Encoding.UTF8.GetBytes(workload.Body(ClicksPerRequest, now, ndjson, Run("warm")))).ToArray();
    }

    private static async Task SingleClicksAsync(ComparisonTable table, PostgresCluster postgres, TimeSpan duration)
    {
        foreach (int connections in new[] { 64, 256 })
        {
            (WrkResult tollbooth, WrkResult naive, WrkResult ceiling) = await SingleClickRunsAsync(postgres, connections, duration);
            table.Add($"single-click requests/s, {connections} connections (wrk, 2 threads)", tollbooth.RequestsPerSecond, naive.RequestsPerSecond, ceiling.RequestsPerSecond, "req/s");
            table.Text($"  latency p50 / p99, {connections} connections", Latency(tollbooth), Latency(naive), Latency(ceiling));
        }
    }

    /// <summary>wrk's single-click load on Tollbooth, the naive design and bare Kestrel in turn, each after its warm-up.</summary>
    internal static async Task<(WrkResult Tollbooth, WrkResult Naive, WrkResult Ceiling)> SingleClickRunsAsync(PostgresCluster postgres, int connections, TimeSpan duration)
    {
        WrkResult tollbooth, naive, ceiling;
        using (var server = Started(null))
        {
            Wrk.Run(server.BaseAddress.ToString(), Key, connections, WarmUp, Run("warm-t"));
            tollbooth = Wrk.Run(server.BaseAddress.ToString(), Key, connections, duration, Run("wrk-t"));
        }

        using (var server = Started(postgres))
        {
            Wrk.Run(server.BaseAddress.ToString(), Key, connections, WarmUp, Run("warm-n"));
            naive = Wrk.Run(server.BaseAddress.ToString(), Key, connections, duration, Run("wrk-n"));
        }

        await using (BareKestrel bare = await BareKestrel.StartAsync(FreePort()))
        {
            Wrk.Run(bare.Url, Key, connections, WarmUp, Run("warm-c"));
            ceiling = Wrk.Run(bare.Url, Key, connections, duration, Run("wrk-c"));
        }

        return (tollbooth, naive, ceiling);
    }

    private static async Task BatchesAsync(ComparisonTable table, PostgresCluster postgres, TimeSpan duration)
    {
        foreach (bool ndjson in new[] { true, false })
        {
            BatchRuns runs = await BatchRunsAsync(postgres, ndjson, duration);
            string format = ndjson ? "NDJSON" : "JSON arrays";
            table.Add($"batched ingest, durable ack, {ClicksPerRequest:N0} clicks/request, {format}, 16 senders", runs.Tollbooth.ClicksPerSecond, runs.Naive.ClicksPerSecond, runs.Ceiling.ClicksPerSecond, "clicks/s");
            table.Text($"  request latency p50 / p99 ({format})", $"{runs.Tollbooth.P50Ms:0.0} / {runs.Tollbooth.P99Ms:0.0} ms", $"{runs.Naive.P50Ms:0.0} / {runs.Naive.P99Ms:0.0} ms", $"{runs.Ceiling.P50Ms:0.0} / {runs.Ceiling.P99Ms:0.0} ms");
        }
    }

    /// <summary>What the batched runs measured, and how long Tollbooth's processors took after its load stopped to reach lag 0.</summary>
    internal sealed record BatchRuns(BatchResult Tollbooth, BatchResult Naive, BatchResult Ceiling, TimeSpan CatchUp);

    /// <summary>16 senders of 1,000-click bodies against Tollbooth, the naive design and bare Kestrel in turn, each after its warm-up.</summary>
    internal static async Task<BatchRuns> BatchRunsAsync(PostgresCluster postgres, bool ndjson, TimeSpan duration)
    {
        string contentType = ndjson ? "application/x-ndjson" : "application/json";
        var workload = new Workload(seed: 11);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        byte[][] bodies = Enumerable.Range(0, 32).Select(_ => Encoding.UTF8.GetBytes(workload.Body(ClicksPerRequest, now, ndjson, Run("b")))).ToArray();
        BatchResult tollbooth, naive, ceiling;
        TimeSpan catchUp;
        using (var server = Started(null))
        {
            await ClickSenders.BatchesAsync(server.BaseAddress.ToString(), Key, WarmUpBodies(ndjson), contentType, ClicksPerRequest, 16, WarmUp);
            await WaitForLagZeroAsync(server.BaseAddress);
            tollbooth = await ClickSenders.BatchesAsync(server.BaseAddress.ToString(), Key, bodies, contentType, ClicksPerRequest, 16, duration);
            catchUp = await WaitForLagZeroAsync(server.BaseAddress);
        }

        using (var server = Started(postgres))
        {
            await ClickSenders.BatchesAsync(server.BaseAddress.ToString(), Key, WarmUpBodies(ndjson), contentType, ClicksPerRequest, 16, WarmUp);
            naive = await ClickSenders.BatchesAsync(server.BaseAddress.ToString(), Key, bodies, contentType, ClicksPerRequest, 16, duration);
        }

        await using (BareKestrel bare = await BareKestrel.StartAsync(FreePort()))
        {
            await ClickSenders.BatchesAsync(bare.Url, Key, WarmUpBodies(ndjson), contentType, ClicksPerRequest, 16, WarmUp);
            ceiling = await ClickSenders.BatchesAsync(bare.Url, Key, bodies, contentType, ClicksPerRequest, 16, duration);
        }

        return new BatchRuns(tollbooth, naive, ceiling, catchUp);
    }

    /// <summary>Tollbooth alone under the paced click-to-queryable load.</summary>
    internal static async Task<FreshnessResult> TollboothFreshnessAsync(int clicksPerSecond, TimeSpan duration)
    {
        using var server = Started(null);
        return await Freshness.RunAsync(server.BaseAddress.ToString(), Key, clicksPerSecond, duration);
    }

    private static async Task FreshnessAsync(ComparisonTable table, PostgresCluster postgres, TimeSpan duration)
    {
        const int Rate = 100_000;
        FreshnessResult tollbooth = await TollboothFreshnessAsync(Rate, duration), naive;
        using (var server = Started(postgres))
        {
            naive = await Freshness.RunAsync(server.BaseAddress.ToString(), Key, Rate, duration);
        }

        table.Text(
            $"click to queryable p50 / p99 (202 to aggregated_count), load paced at {Rate:N0} clicks/s in 1,000-click batches",
            FreshnessText(tollbooth),
            FreshnessText(naive));
    }

    private static string FreshnessText(FreshnessResult result) =>
        $"{result.P50Ms:0} / {result.P99Ms:0} ms at {result.ClicksPerSecond:N0} clicks/s sustained ({result.Probes} probes{(result.NeverSeen > 0 ? $", {result.NeverSeen} not seen in 30 s" : "")})";

    private static async Task ResendsAsync(ComparisonTable table, PostgresCluster postgres, TimeSpan duration)
    {
        const int Ads = 16;
        long tollboothExtra, naiveExtra;
        SingleClickResult tollbooth, naive;
        using (var server = Started(null))
        {
            string run = Run("rt");
            tollbooth = await ClickSenders.SingleClicksAsync(server.BaseAddress.ToString(), Key, run, Ads, 64, duration, 0.05, seed: 5);
            tollboothExtra = await TollboothCountAsync(server.BaseAddress, run, Ads) - tollbooth.AckedIds.Count;
        }

        using (var server = Started(postgres))
        {
            string run = Run("rn");
            naive = await ClickSenders.SingleClicksAsync(server.BaseAddress.ToString(), Key, run, Ads, 64, duration, 0.05, seed: 5);
            (long rows, long distinct) = await NaiveRowsAsync(postgres, run);
            naiveExtra = rows - distinct;
        }

        table.Text(
            "clicks counted twice when 5% of requests are resent after their 202 (64 senders)",
            $"{tollboothExtra:N0} of {tollbooth.Resends:N0} resends ({tollbooth.AckedIds.Count:N0} clicks)",
            $"{naiveExtra:N0} of {naive.Resends:N0} resends ({naive.AckedIds.Count:N0} clicks)");
    }

    private static async Task OutageAsync(ComparisonTable table, PostgresCluster postgres)
    {
        const int Ads = 16;
        TimeSpan before = TimeSpan.FromSeconds(5), outage = TimeSpan.FromSeconds(10), after = TimeSpan.FromSeconds(10);
        TimeSpan total = before + outage + after;

        string tollboothRun = Run("ot");
        using var tollboothServer = Started(null);
        Task<SingleClickResult> tollboothLoad = ClickSenders.SingleClicksAsync(tollboothServer.BaseAddress.ToString(), Key, tollboothRun, Ads, 64, total, 0, seed: 9);
        await Task.Delay(before);
        tollboothServer.Kill();
        await Task.Delay(outage);
        tollboothServer.Start();
        SingleClickResult tollbooth = await tollboothLoad;
        long tollboothCounted = await TollboothCountAsync(tollboothServer.BaseAddress, tollboothRun, Ads);
        tollboothServer.Kill();
        HashSet<string> inLog = LogClickIds.Read(tollboothServer.DataDirectory);
        long tollboothLost = tollbooth.AckedIds.Count(id => !inLog.Contains(id));

        string naiveRun = Run("on");
        using var naiveServer = Started(postgres);
        Task<SingleClickResult> naiveLoad = ClickSenders.SingleClicksAsync(naiveServer.BaseAddress.ToString(), Key, naiveRun, Ads, 64, total, 0, seed: 9);
        await Task.Delay(before);
        postgres.StopImmediately();
        await Task.Delay(outage);
        postgres.StartServer();
        SingleClickResult naive = await naiveLoad;
        long naiveLost = await NaiveMissingAsync(postgres, naive.AckedIds);
        (long naiveRows, _) = await NaiveRowsAsync(postgres, naiveRun);

        table.Text(
            "acknowledged clicks lost: 10 s outage under load (Tollbooth kill -9 and restart; naive: PostgreSQL stopped -m immediate and started)",
            $"{LostText(tollboothLost, tollbooth)}",
            $"{LostText(naiveLost, naive)}");
        table.Text(
            "  clicks refused during the outage (a pixel or redirect does not retry: lost to billing)",
            $"{tollbooth.Refused:N0} requests; {tollboothCounted:N0} counted, {inLog.Count(id => id.StartsWith(tollboothRun, StringComparison.Ordinal)):N0} in the log",
            $"{naive.Refused:N0} requests; {naiveRows:N0} counted");
    }

    private static string LostText(long lost, SingleClickResult result) => $"{lost:N0} of {result.AckedIds.Count:N0} acknowledged";

    private static string Latency(WrkResult result) =>
        $"{result.P50Ms:0.0} / {result.P99Ms:0.0} ms{(result.Non2xx > 0 ? $" ({result.Non2xx:N0} non-2xx)" : "")}{(result.SocketErrors.Length > 0 ? $" (socket errors: {result.SocketErrors})" : "")}";

    private static TollboothProcess Started(PostgresCluster? postgres)
    {
        var server = postgres is null
            ? new TollboothProcess()
            : new TollboothProcess(null, "--engine", "naive", "--store", postgres.Url);
        server.Start();
        return server;
    }

    private static async Task<long> TollboothCountAsync(Uri baseAddress, string run, int ads)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Api-Key", Key);
        await WaitForLagZeroAsync(baseAddress);
        string from = DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'", CultureInfo.InvariantCulture);
        string to = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'", CultureInfo.InvariantCulture);
        long total = 0;
        for (int ad = 0; ad < ads; ad++)
        {
            using HttpResponseMessage response = await http.GetAsync($"/v1/ads/{run}-ad{ad}/aggregated_count?from={from}&to={to}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                using JsonDocument count = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                total += count.RootElement.GetProperty("count").GetInt64();
            }
        }

        return total;
    }

    /// <summary>Polls /v1/status until every accepted click is counted (lag 0), for at most two minutes; the time it took.</summary>
    private static async Task<TimeSpan> WaitForLagZeroAsync(Uri baseAddress)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Api-Key", Key);
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(120))
        {
            using JsonDocument status = JsonDocument.Parse(await http.GetStringAsync("/v1/status"));
            if (status.RootElement.GetProperty("lag").GetInt64() == 0)
            {
                return waited.Elapsed;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("Tollbooth's lag did not reach 0 within 2 minutes of the load stopping.");
    }

    private static async Task<(long Rows, long Distinct)> NaiveRowsAsync(PostgresCluster postgres, string run)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*), count(DISTINCT click_id) FROM clicks WHERE campaign_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = run + "-camp" });
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static async Task<long> NaiveMissingAsync(PostgresCluster postgres, HashSet<string> ackedIds)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM unnest($1::text[]) AS acked(id) WHERE NOT EXISTS (SELECT 1 FROM clicks c WHERE c.click_id = acked.id)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ackedIds.ToArray() });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string Run(string what) => what + Guid.NewGuid().ToString("N")[..6];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

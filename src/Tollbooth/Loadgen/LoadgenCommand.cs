using System.Net;
using Tollbooth.Commands;
using Tollbooth.Core;

namespace Tollbooth.Loadgen;

/// <summary>
/// <c>tollbooth loadgen --url URL --key KEY [--rate N|max] [--clicks N] [--duration 30s] [--batch N]
/// [--connections N] [--seed N] [--ads N] [--no-check] [--run-id ID]</c>: sends a seeded, realistic workload
/// with live progress, then (with an admin key) checks the server's counts against its own truth.
/// Exit 0 when they match, 1 when they differ or sending failed, 2 on a usage error.
/// </summary>
public static class LoadgenCommand
{
    public static async Task<int> RunAsync(Dictionary<string, string> flags)
    {
        LoadgenOptions options = LoadgenOptions.Take(flags, Environment.GetEnvironmentVariable("TOLLBOOTH_ADMIN_KEY"), DateTimeOffset.UtcNow);
        // The rules loadgen's truth assumes: the server's, when given the same config, variables and flags.
        AggregatorOptions rules = TollboothSettings.Load(flags).ToAggregatorOptions();
        if (LoadgenWorkload.AgentsDisagreeWith(rules.BotUserAgentPatterns) is { } problem)
        {
            throw new SettingsException($"loadgen cannot predict the bot rule because {problem}: run it with the default Processing:BotUserAgents.");
        }

        using var http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = options.Connections + 1,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        })
        {
            BaseAddress = new Uri(options.Url.ToString().TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromSeconds(60),
        };
        http.DefaultRequestHeaders.Add("X-Api-Key", options.Key);
        bool admin = await IsAdminAsync(http, options.Url);
        bool check = options.Check && admin;

        var workload = new LoadgenWorkload(options.RunId, options.Seed, options.Ads, rules.AllowedLatenessMs);
        var truth = new LoadgenTruth(options.Ads, rules.UserClicksPerAdPerMinuteMax, rules.IpClicksPerAdPerMinuteMax);
        var sender = new LoadgenSender(http, options, workload, truth, admin);
        ProgressDisplay progress = ProgressDisplay.ForConsole(TimeSpan.FromSeconds(2));
        progress.Finish(Header(options, workload, admin));
        if (options.Check && !admin)
        {
            progress.Finish("not an admin key: sending clicks only, without click links or the check (they need an admin key)");
        }

        long fromMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 700_000;
        int interrupts = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // The first Ctrl+C stops sending and still checks; a second one ends the program.
            e.Cancel = Interlocked.Increment(ref interrupts) == 1;
            sender.Stop();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            await ShowProgressAsync(sender, sender.RunAsync(), workload, progress);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        progress.Finish(Summary(sender, workload));
        if (sender.Failure is not null)
        {
            Console.Error.WriteLine($"error: sending stopped: {sender.Failure}");
            return 1;
        }

        if (!check)
        {
            return 0;
        }

        long toMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_600_000;
        try
        {
            return await LoadgenCheck.RunAsync(http, workload, truth, fromMs - 3_600_000, toMs, progress);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or KeyNotFoundException)
        {
            throw new InvalidOperationException($"the check could not read the server's counts ({exception.Message}): check that {options.Url} is up and run loadgen again.");
        }
    }

    private static async Task ShowProgressAsync(LoadgenSender sender, Task running, LoadgenWorkload workload, ProgressDisplay progress)
    {
        long previousAcknowledged = 0;
        TimeSpan previousAt = TimeSpan.Zero;
        string rate = "0", p99 = "0";
        while (await Task.WhenAny(running, Task.Delay(100)) != running)
        {
            TimeSpan at = sender.Elapsed;
            if (at - previousAt >= TimeSpan.FromSeconds(1) || (previousAt == TimeSpan.Zero && at > TimeSpan.FromMilliseconds(200)))
            {
                long acknowledged = sender.Acknowledged;
                rate = ProgressDisplay.Number((long)((acknowledged - previousAcknowledged) / (at - previousAt).TotalSeconds));
                p99 = sender.Latencies.TakeRecentQuantileMs(0.99).ToString(System.Globalization.CultureInfo.InvariantCulture);
                (previousAcknowledged, previousAt) = (acknowledged, at);
            }

            progress.Update(
                $"{at.TotalSeconds:F0}s  sent {ProgressDisplay.Number(workload.Generated)}  acknowledged {ProgressDisplay.Number(sender.Acknowledged)}  " +
                $"rejected {ProgressDisplay.Number(sender.Rejected)}  {rate} clicks/s  p99 ack {p99} ms");
        }

        await running;
    }

    private static string Header(LoadgenOptions options, LoadgenWorkload workload, bool admin)
    {
        string rate = options.RatePerSecond == 0 ? "as fast as acknowledged" : $"{ProgressDisplay.Number(options.RatePerSecond)} clicks/s";
        string until = (options.ClicksMax, options.Duration) switch
        {
            (> 0, var d) when d > TimeSpan.Zero => $"{ProgressDisplay.Number(options.ClicksMax)} clicks or {d.TotalSeconds:F0} s",
            (> 0, _) => $"{ProgressDisplay.Number(options.ClicksMax)} clicks",
            _ => $"{options.Duration.TotalSeconds:F0} s",
        };
        return $"loadgen: run {options.RunId}, seed {options.Seed}: {options.Ads} ads of {workload.AdvertiserCount} advertisers, " +
            $"{LoadgenWorkload.PublisherCount} publishers{(admin ? "" : " (the key's own)")}; {rate} for {until}, " +
            $"{options.BatchClicks} clicks a request, {options.Connections} connections, to {options.Url}";
    }

    private static string Summary(LoadgenSender sender, LoadgenWorkload workload)
    {
        double seconds = Math.Max(sender.Elapsed.TotalSeconds, 1e-3);
        return $"sent {ProgressDisplay.Number(workload.Generated)} clicks in {seconds:F1} s: acknowledged {ProgressDisplay.Number(sender.Acknowledged)} " +
            $"({ProgressDisplay.Number((long)(sender.Acknowledged / seconds))} clicks/s), rejected {ProgressDisplay.Number(sender.Rejected)}, " +
            $"requests retried {ProgressDisplay.Number(sender.Retried)}; ack latency p50 {sender.Latencies.RunQuantileMs(0.5)} ms, " +
            $"p99 {sender.Latencies.RunQuantileMs(0.99)} ms";
    }

    private static async Task<bool> IsAdminAsync(HttpClient http, Uri url)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.GetAsync("v1/status");
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            throw new InvalidOperationException($"cannot reach Tollbooth at {url} ({exception.Message}): start it with `tollbooth serve` or pass --url.");
        }

        using (response)
        {
            return response.StatusCode switch
            {
                HttpStatusCode.OK => true,
                HttpStatusCode.Forbidden => false,
                HttpStatusCode.Unauthorized => throw new InvalidOperationException($"the server at {url} does not know this key: pass an admin or publisher key with --key."),
                _ => throw new InvalidOperationException($"the server at {url} answered {(int)response.StatusCode} to GET /v1/status: is it Tollbooth?"),
            };
        }
    }
}

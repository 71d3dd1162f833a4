using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Tollbooth.Benchmarks.Naive;

/// <summary>What one wrk run measured: requests answered 2xx per second and the latency percentiles of all answers.</summary>
public sealed record WrkResult(double RequestsPerSecond, double P50Ms, double P99Ms, long Requests, long Non2xx, string SocketErrors);

/// <summary>
/// Runs Debian's <c>wrk</c> (2 threads, the load generator on the same 2 cores as the server) with the single-click
/// Lua script and reads its report.
/// </summary>
public static partial class Wrk
{
    public static WrkResult Run(string url, string apiKey, int connections, TimeSpan duration, string runPrefix)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "Naive", "single-click.lua");
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])["-t2", $"-c{connections}", $"-d{(int)duration.TotalSeconds}s", "--timeout", "10s", "--latency", "-s", script, url, "--", runPrefix, apiKey])
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("wrk could not be started: install Debian's wrk (bench/run does).");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk exited {process.ExitCode}: {stderr.Result}{output}");
        }

        long requests = long.Parse(RequestsLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        Match non2xx = Non2xxLine().Match(output);
        long failed = non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        Match errors = SocketErrorsLine().Match(output);
        double seconds = double.Parse(DurationLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture) * DurationUnit(DurationLine().Match(output).Groups[2].Value);
        return new WrkResult((requests - failed) / seconds, Percentile(output, "50%"), Percentile(output, "99%"), requests, failed, errors.Success ? errors.Groups[1].Value.Trim() : "");
    }

    private static double Percentile(string output, string label)
    {
        Match match = Regex.Match(output, @"^\s*" + Regex.Escape(label) + @"\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline);
        double value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "us" => value / 1000,
            "ms" => value,
            "s" => value * 1000,
            _ => value * 60_000,
        };
    }

    private static double DurationUnit(string unit) => unit switch
    {
        "ms" => 0.001,
        "s" => 1,
        _ => 60,
    };

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"requests in ([\d.]+)(ms|s|m),")]
    private static partial Regex DurationLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xxLine();

    [GeneratedRegex(@"Socket errors:(.*)")]
    private static partial Regex SocketErrorsLine();
}

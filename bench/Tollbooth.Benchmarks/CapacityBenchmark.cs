using System.Globalization;
using System.Text;
using Tollbooth.Benchmarks.Naive;
using Tollbooth.Tests;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Issue 16's four capacity figures in one run, each beside the baseline it is judged against, measured in this same
/// run on the same cores (wrk and the senders share them with the server): single-click requests against bare
/// Kestrel, 1,000-click batches against the naive design, replay processing against read + decode, and click to
/// queryable at a paced 100,000 clicks/s; then the query p99 at 1,000,000 ads, which must not regress. Each row says
/// whether its target is met. The query benchmark's own rows go to <c>details</c>.
/// </summary>
public static class CapacityBenchmark
{
    private const int SingleClickConnections = 64;
    private const int FreshnessRate = 100_000;

    public static async Task<string> RunAsync(ResultTable details, TimeSpan duration, int replayClicks, int queryAds)
    {
        var rows = new List<string>();
        void Row(string figure, string baseline, string tollbooth, string versus, string target, bool met)
        {
            rows.Add($"| {figure} | {baseline} | {tollbooth} | {versus} | {target} | {(met ? "met" : "**not met**")} |");
            Console.WriteLine($"  {figure}: {tollbooth} against {baseline} ({versus}); target {target}: {(met ? "met" : "not met")}");
        }

        using (PostgresCluster postgres = PostgresCluster.Start())
        {
            (WrkResult tollbooth, _, WrkResult kestrel) = await NaiveBenchmark.SingleClickRunsAsync(postgres, SingleClickConnections, duration);
            double share = tollbooth.RequestsPerSecond / kestrel.RequestsPerSecond;
            Row(
                $"single-click requests/s, c={SingleClickConnections} (wrk, 2 threads)",
                $"bare Kestrel {Rate(kestrel.RequestsPerSecond)} (p99 {kestrel.P99Ms:0.0} ms)",
                $"{Rate(tollbooth.RequestsPerSecond)} (p99 {tollbooth.P99Ms:0.0} ms{Errors(tollbooth)})",
                $"{share:P0} of Kestrel",
                ">= 50% of Kestrel, p99 < 10 ms",
                share >= 0.5 && tollbooth.P99Ms < 10 && tollbooth.Non2xx == 0);

            foreach (bool ndjson in new[] { true, false })
            {
                NaiveBenchmark.BatchRuns runs = await NaiveBenchmark.BatchRunsAsync(postgres, ndjson, duration);
                double ratio = runs.Tollbooth.ClicksPerSecond / runs.Naive.ClicksPerSecond;
                // Keeping up: the processors count what was acknowledged within a second of the load stopping.
                bool keptUp = runs.CatchUp < TimeSpan.FromSeconds(1);
                Row(
                    $"batched, 1,000 clicks a request ({(ndjson ? "NDJSON" : "JSON array")}), 16 senders",
                    $"naive {Rate(runs.Naive.ClicksPerSecond)} clicks/s (bare Kestrel reading them: {Rate(runs.Ceiling.ClicksPerSecond)})",
                    $"{Rate(runs.Tollbooth.ClicksPerSecond)} clicks/s{(runs.Tollbooth.Failed > 0 ? $" ({runs.Tollbooth.Failed:N0} requests failed)" : "")}; lag 0 {runs.CatchUp.TotalSeconds:0.0} s after the load stopped",
                    $"{ratio:0}x naive",
                    ">= 100x naive and >= 500,000 clicks/s, processing keeping up (lag 0 within 1 s of the load stopping)",
                    ratio >= 100 && runs.Tollbooth.ClicksPerSecond >= 500_000 && keptUp && runs.Tollbooth.Failed == 0);
            }
        }

        (double processed, double decodeOnly) = await ReplayBenchmark.ProcessingAsync(replayClicks);
        Row(
            $"replay, one thread ({replayClicks:N0} clicks)",
            $"read + decode to click objects {Rate(decodeOnly)} clicks/s",
            $"{Rate(processed)} clicks/s",
            $"{processed / decodeOnly:0.00}x read + decode",
            ">= 1,000,000 clicks/s per core",
            processed >= 1_000_000);

        FreshnessResult fresh = await NaiveBenchmark.TollboothFreshnessAsync(FreshnessRate, duration);
        Row(
            $"click to queryable, offered {FreshnessRate:N0} clicks/s in 1,000-click batches",
            $"offered {Rate(FreshnessRate)} clicks/s",
            $"p50 {fresh.P50Ms:0} ms, p99 {fresh.P99Ms:0} ms at {Rate(fresh.ClicksPerSecond)} clicks/s sustained ({fresh.Probes} probes{(fresh.NeverSeen > 0 ? $", {fresh.NeverSeen} not seen in 30 s" : "")})",
            $"{fresh.ClicksPerSecond / FreshnessRate:P0} of the offered load sustained",
            "p99 < 1 s at 100,000 clicks/s sustained (95% of it or more)",
            fresh.P99Ms < 1000 && fresh.NeverSeen == 0 && fresh.ClicksPerSecond >= 0.95 * FreshnessRate);

        (double worstP99, double afterLateP99) = QueryBenchmark.Run(details, queryAds, tailRowsPerAd: 2);
        Row(
            $"queries over {queryAds:N0} ads, 7 days (the worst p99 of the query benchmark's five questions, hours rolled up; each in the table below)",
            "the 20 ms target",
            $"{worstP99:0.0} ms (the campaign week right after late commits took most hours out of the rollups: {afterLateP99:0} ms, until the roller rolls them again)",
            "",
            "p99 < 20 ms (no regression)",
            worstP99 < 20);

        var text = new StringBuilder();
        text.AppendLine("| figure | baseline (same run) | Tollbooth | Tollbooth against the baseline | target | |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (string row in rows)
        {
            text.AppendLine(row);
        }

        return text.ToString();
    }

    private static string Rate(double perSecond) => perSecond.ToString("N0", CultureInfo.InvariantCulture);

    private static string Errors(WrkResult result) =>
        (result.Non2xx > 0 ? $", {result.Non2xx:N0} non-2xx" : "") + (result.SocketErrors.Length > 0 ? $", socket errors: {result.SocketErrors}" : "");
}

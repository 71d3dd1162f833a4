using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Processing;
using Tollbooth.Query;
using Tollbooth.Store;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Queries over a store holding 1,000,000 distinct ads and 7 days of minute rows, written the way the
/// processors write them (commits of changed rows, minute after minute): a few hot ads with a row every
/// minute, a long tail with a handful each. Each query runs many times; p50 and p99 are printed against
/// the target (20 ms) as the baseline.
/// </summary>
public static class QueryBenchmark
{
    private const int Partitions = 8;
    private const int Days = 7;
    private const int HotAds = 50;
    private const long TargetMs = 20;

    public static void Run(ResultTable table, int ads, int tailRowsPerAd)
    {
        string directory = Path.Combine(Path.GetTempPath(), "tollbooth-bench-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            using DuckDbStore store = DuckDbStore.Open(Path.Combine(directory, "tollbooth.duckdb"));
            long firstMinute = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 60_000) - (Days * 1440);
            var clock = Stopwatch.StartNew();
            long rows = Load(store, firstMinute, ads, tailRowsPerAd);
            Console.WriteLine($"  loaded {rows:N0} rows of {ads:N0} ads over {Days} days in {clock.Elapsed.TotalSeconds:0} s");
            table.Note($"query store: {ads:N0} ads, {Days} days of minute rows", $"{rows:N0} rows, loaded in {clock.Elapsed.TotalSeconds:0} s");

            long lastMinute = firstMinute + (Days * 1440);
            var aggregates = new AggregateQueries(store, new AggregatorOptions());
            var random = new Random(5);
            Measure(table, "one hot ad's count over 1 hour", () => store.SumClicks("ad" + random.Next(HotAds), lastMinute - 60, lastMinute, default, null));
            Measure(table, "one hot ad's count over 7 days", () => store.SumClicks("ad" + random.Next(HotAds), firstMinute, lastMinute, default, null));
            Measure(table, "one tail ad's count over 7 days", () => store.SumClicks("ad" + random.Next(HotAds, ads), firstMinute, lastMinute, default, null));
            Measure(table, "top 100 ads over 60 minutes (8 partitions' lists, merged)", () =>
                store.TopAdsPerPartition(lastMinute - 60, lastMinute, default, null, 100)
                    .Select(p => p.Ad).OrderByDescending(a => a.Clicks).ThenBy(a => a.AdId, StringComparer.Ordinal).Take(100).Count());
            var hours = new TimeBuckets(Granularity.Hour, TimeZoneInfo.Utc);
            Measure(table, "one hot campaign's hourly aggregates over 7 days", () => aggregates.Windows(
                new WindowSelector(WindowScope.Campaign, "camp" + random.Next(HotAds), firstMinute, lastMinute, default, null), hours, Breakdown.None, null).Count);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Measure(ResultTable table, string what, Func<long> query)
    {
        for (int i = 0; i < 5; i++)
        {
            query();
        }

        var timings = new double[200];
        for (int i = 0; i < timings.Length; i++)
        {
            long before = Stopwatch.GetTimestamp();
            query();
            timings[i] = Stopwatch.GetElapsedTime(before).TotalMilliseconds;
        }

        Array.Sort(timings);
        table.Add($"query p99: {what} (p50 {timings[100]:0.0} ms)", timings[198], TargetMs, "the target p99", "ms", higherIsBetter: false);
    }

    // Minute by minute, as processors commit: the hot ads every minute, each tail ad on a few seeded minutes.
    private static long Load(DuckDbStore store, long firstMinute, int ads, int tailRowsPerAd)
    {
        var random = new Random(3);
        int minutes = Days * 1440;
        var tailByMinute = new List<int>[minutes];
        for (int ad = HotAds; ad < ads; ad++)
        {
            for (int r = 0; r < tailRowsPerAd; r++)
            {
                (tailByMinute[random.Next(minutes)] ??= new List<int>()).Add(ad);
            }
        }

        var pending = new List<WindowRow>[Partitions];
        var nextPosition = new long[Partitions];
        long written = 0;
        for (int m = 0; m < minutes; m++)
        {
            IEnumerable<int> adsThisMinute = Enumerable.Range(0, HotAds).Concat(tailByMinute[m] ?? []);
            foreach (int ad in adsThisMinute.Distinct())
            {
                string adId = "ad" + ad;
                int partition = Partitioner.PartitionOf(adId, Partitions);
                var row = new WindowRow(new WindowKey(firstMinute + m, adId, "adv" + (ad % 1000), "camp" + (ad % 10_000), "pub" + (ad % 7), "US", Device.Mobile))
                {
                    Status = WindowStatus.Final,
                    Revision = 2,
                };
                long clicks = ad < HotAds ? 50 + random.Next(100) : 1 + random.Next(3);
                row.Received = clicks;
                row.Clicks = clicks;
                row.SpendMicros = clicks * 1000;
                for (int u = 0; u < Math.Min(clicks, 20); u++)
                {
                    row.Users.AddUser("u" + random.Next(100_000));
                }

                (pending[partition] ??= new List<WindowRow>()).Add(row);
            }

            if (m % 240 == 239 || m == minutes - 1)
            {
                for (int partition = 0; partition < Partitions; partition++)
                {
                    if (pending[partition] is { Count: > 0 } rows)
                    {
                        nextPosition[partition] += rows.Count;
                        store.Commit(new PartitionCheckpoint(partition, nextPosition[partition], (firstMinute + m) * 60_000), rows);
                        written += rows.Count;
                        rows.Clear();
                    }
                }
            }
        }

        return written;
    }
}

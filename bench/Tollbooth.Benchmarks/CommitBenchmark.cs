using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Processing;
using Tollbooth.Store;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Store commits as eight partition processors make them, each thread committing its own partition's rows (320 of them,
/// as in the query benchmark's live commits: fifty hot ads' rows of the next minute, the rest tail ads'), measured two
/// ways on a fresh store per configuration: back to back (commits/s and rows/s the store sustains) and paced at four
/// commits a second per partition, as the processors commit under light load (the CPU the store then takes, and the
/// commit latency). The baseline is the store before issue 16: one DuckDB transaction per commit, DuckDB's default
/// threads; the other configurations are noted so each change shows on its own.
/// </summary>
public static class CommitBenchmark
{
    private const int Partitions = 8;
    private const int RowsPerCommit = 320;
    private const int HotAds = 50;
    private const int PacedIntervalMs = 250;

    public static void Run(ResultTable table, TimeSpan duration)
    {
        (string Name, DuckDbStoreOptions Options)[] configurations =
        [
            ("one transaction per commit, DuckDB's default threads", new DuckDbStoreOptions { GroupCommits = false, Threads = 0, RollInBackground = false }),
            ("one transaction per commit, threads = 1", new DuckDbStoreOptions { GroupCommits = false, Threads = 1, RollInBackground = false }),
            ("group commit, DuckDB's default threads", new DuckDbStoreOptions { GroupCommits = true, Threads = 0, RollInBackground = false }),
            ("group commit, threads = 1", new DuckDbStoreOptions { GroupCommits = true, Threads = 1, RollInBackground = false }),
        ];

        // Against the baseline: the store's defaults (the program's configuration).
        int chosen = Array.FindIndex(configurations, c => c.Options.GroupCommits == DuckDbStoreOptions.Default.GroupCommits && c.Options.Threads == DuckDbStoreOptions.Default.Threads);

        var results = new List<(string Name, Result BackToBack, Result Paced)>();
        foreach ((string name, DuckDbStoreOptions options) in configurations)
        {
            Result backToBack = Measure(options, duration, paced: false);
            Result paced = Measure(options, duration, paced: true);
            Console.WriteLine($"  {name}: back to back {backToBack}; paced {paced}");
            results.Add((name, backToBack, paced));
        }

        (string baselineName, Result baseBack, Result basePaced) = results[0];
        (string chosenName, Result back, Result pacedChosen) = results[chosen];
        string baseline = "before (" + baselineName + ")";
        table.Add($"store commits/s, {Partitions} threads committing {RowsPerCommit} rows back to back ({chosenName})", back.CommitsPerSecond, baseBack.CommitsPerSecond, baseline, "commits/s");
        table.Add($"store rows/s, {Partitions} threads committing {RowsPerCommit} rows back to back ({chosenName})", back.RowsPerSecond, baseBack.RowsPerSecond, baseline, "rows/s");
        table.Add($"CPU of {Partitions} partitions committing {RowsPerCommit} rows every {PacedIntervalMs} ms ({chosenName}), % of one core", pacedChosen.CpuPercent, basePaced.CpuPercent, baseline, "%", higherIsBetter: false);
        table.Add($"store commit p99 at that pace ({chosenName}; p50 {pacedChosen.P50Ms:0.0} ms against {basePaced.P50Ms:0.0} ms)", pacedChosen.P99Ms, basePaced.P99Ms, baseline, "ms", higherIsBetter: false);
        for (int i = 1; i < results.Count; i++)
        {
            if (i == chosen)
            {
                continue;
            }

            table.Note($"store commits, {results[i].Name}", $"back to back {results[i].BackToBack}; paced {results[i].Paced}");
        }
    }

    private static Result Measure(DuckDbStoreOptions options, TimeSpan duration, bool paced)
    {
        string directory = Path.Combine(Path.GetTempPath(), "tollbooth-bench-commit-" + Guid.NewGuid().ToString("N"));
        try
        {
            using DuckDbStore store = DuckDbStore.Open(Path.Combine(directory, "tollbooth.duckdb"), options);

            // A second of warm-up first (JIT, DuckDB's first pages), not measured.
            Drive(store, TimeSpan.FromSeconds(1), paced, startMinute: 0);
            using Process self = Process.GetCurrentProcess();
            TimeSpan cpuBefore = self.TotalProcessorTime;
            (long commitsBefore, long transactionsBefore) = store.CommitCounts;
            (long commits, double[] latencies, TimeSpan elapsed) = Drive(store, duration, paced, startMinute: 100_000);
            self.Refresh();
            TimeSpan cpu = self.TotalProcessorTime - cpuBefore;
            (long commitsAfter, long transactionsAfter) = store.CommitCounts;
            return new Result(
                commits / elapsed.TotalSeconds,
                commits * RowsPerCommit / elapsed.TotalSeconds,
                100 * cpu.TotalSeconds / elapsed.TotalSeconds,
                latencies[latencies.Length / 2],
                latencies[Math.Min(latencies.Length - 1, latencies.Length * 99 / 100)],
                (double)(commitsAfter - commitsBefore) / Math.Max(1, transactionsAfter - transactionsBefore));
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    // Eight threads, one per partition, committing until the duration is over; returns the commits, their sorted latencies
    // in ms and the time taken.
    private static (long Commits, double[] Latencies, TimeSpan Elapsed) Drive(DuckDbStore store, TimeSpan duration, bool paced, long startMinute)
    {
        var latencies = new List<double>[Partitions];
        var threads = new Thread[Partitions];
        using var start = new Barrier(Partitions + 1);
        var clock = new Stopwatch();
        for (int p = 0; p < Partitions; p++)
        {
            int partition = p;
            latencies[partition] = new List<double>();
            threads[partition] = new Thread(() =>
            {
                var random = new Random(partition);
                start.SignalAndWait();
                long minute = startMinute;
                long position = startMinute;
                long next = Stopwatch.GetTimestamp();
                while (clock.Elapsed < duration)
                {
                    List<WindowRow> rows = Rows(random, partition, minute++);
                    long started = Stopwatch.GetTimestamp();
                    store.Commit(new PartitionCheckpoint(partition, ++position, minute * 60_000), rows);
                    latencies[partition].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    if (paced)
                    {
                        next += Stopwatch.Frequency * PacedIntervalMs / 1000;
                        TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                        if (wait > TimeSpan.Zero)
                        {
                            Thread.Sleep(wait);
                        }
                    }
                }
            })
            { Name = $"bench-commit-{partition}" };
            threads[partition].Start();
        }

        clock.Start();
        start.SignalAndWait();
        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        TimeSpan elapsed = clock.Elapsed;
        double[] all = latencies.SelectMany(list => list).ToArray();
        Array.Sort(all);
        return (all.Length, all, elapsed);
    }

    // One partition's commit: the hot ads' rows of the minute, then tail ads (each ad belongs to one partition, I2).
    private static List<WindowRow> Rows(Random random, int partition, long minute)
    {
        var rows = new List<WindowRow>(RowsPerCommit);
        var tail = new HashSet<int>();
        for (int i = 0; i < RowsPerCommit; i++)
        {
            int ad = i < HotAds ? i : HotAds + random.Next(100_000);
            if (i >= HotAds && !tail.Add(ad))
            {
                i--;
                continue;
            }

            string adId = "ad" + ((ad * Partitions) + partition);
            var row = new WindowRow(new WindowKey(minute, adId, "adv" + (ad % 1000), "camp" + (ad % 10_000), "pub" + (ad % 7), "US", Device.Mobile));
            long clicks = 1 + random.Next(100);
            row.Received = clicks;
            row.Clicks = clicks;
            row.SpendMicros = clicks * 1000;
            row.Users.AddUser("u" + random.Next(100_000));
            rows.Add(row);
        }

        return rows;
    }

    private readonly record struct Result(double CommitsPerSecond, double RowsPerSecond, double CpuPercent, double P50Ms, double P99Ms, double CommitsPerTransaction)
    {
        public override string ToString() =>
            $"{CommitsPerSecond:0} commits/s, {RowsPerSecond:N0} rows/s, CPU {CpuPercent:0}% of a core, p50 {P50Ms:0.0} ms, p99 {P99Ms:0.0} ms, {CommitsPerTransaction:0.0} commits per transaction";
    }
}

using System.Globalization;
using Tollbooth.Benchmarks;

// tollbooth benchmarks: `all`, `capacity` (issue 16's four figures and their targets, in one run), or any of `ingest`, `replay`, `dedup`, `query`, `commit`, `naive`, `freshness` (a part of `naive`), `limits`, `parse`. Prints one Markdown table and
// writes it to bench/results/<date>.md. Figures are measured, never asserted: they vary with the machine.
string[] chosen = args.Length == 0 || args.Contains("all") ? ["ingest", "replay", "dedup", "query", "commit", "naive", "limits"] : args;
string root = FindRoot();
string program = Path.Combine(root, "src", "Tollbooth", "bin", "Release", "net10.0", "tollbooth.dll");
int replayClicks = int.Parse(Environment.GetEnvironmentVariable("BENCH_REPLAY_CLICKS") ?? "3000000", CultureInfo.InvariantCulture);
int dedupIds = int.Parse(Environment.GetEnvironmentVariable("BENCH_DEDUP_IDS") ?? "10000000", CultureInfo.InvariantCulture);
int queryAds = int.Parse(Environment.GetEnvironmentVariable("BENCH_QUERY_ADS") ?? "1000000", CultureInfo.InvariantCulture);
TimeSpan ingestDuration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("BENCH_INGEST_SECONDS") ?? "10", CultureInfo.InvariantCulture));
TimeSpan limitsDuration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("BENCH_LIMITS_SECONDS") ?? "10", CultureInfo.InvariantCulture));
TimeSpan commitDuration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("BENCH_COMMIT_SECONDS") ?? "10", CultureInfo.InvariantCulture));
TimeSpan naiveDuration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("BENCH_NAIVE_SECONDS") ?? "10", CultureInfo.InvariantCulture));

string machine = Machine.Describe();
Console.WriteLine($"machine: {machine}");
var table = new ResultTable();
foreach (string benchmark in chosen)
{
    Console.WriteLine($"running {benchmark} ...");
    switch (benchmark)
    {
        case "ingest": await IngestBenchmark.RunAsync(table, program, ingestDuration); break;
        case "replay": await ReplayBenchmark.RunAsync(table, replayClicks); break;
        case "dedup": DedupBenchmark.Run(table, dedupIds); break;
        case "query": QueryBenchmark.Run(table, queryAds, tailRowsPerAd: 2); break;
        case "commit": CommitBenchmark.Run(table, commitDuration); break;
        case "naive": table.Section("Tollbooth against the naive design and the ceiling", await Tollbooth.Benchmarks.Naive.NaiveBenchmark.RunAsync(naiveDuration)); break;
        case "freshness": table.Section("Click to queryable, Tollbooth against the naive design", await Tollbooth.Benchmarks.Naive.NaiveBenchmark.FreshnessOnlyAsync(naiveDuration)); break;
        case "limits": await LimitsBenchmark.RunAsync(table, program, limitsDuration); break;
        case "capacity": table.Section("Capacity: the four figures of issue 16 against their targets, and queries at scale", await CapacityBenchmark.RunAsync(table, naiveDuration, replayClicks, queryAds)); break;
        case "parse": ParseBenchmark.Run(table); break;
        default: Console.Error.WriteLine($"unknown benchmark '{benchmark}': use all, capacity, ingest, replay, dedup, query, commit, naive, freshness (a part of naive), limits or parse."); return 2;
    }
}

string markdown = table.ToMarkdown(machine);
Console.WriteLine();
Console.WriteLine(markdown);
string results = Path.Combine(root, "bench", "results");
Directory.CreateDirectory(results);
string file = Path.Combine(results, $"{DateTime.UtcNow:yyyy-MM-dd-HHmm}.md");
File.WriteAllText(file, $"# Benchmarks ({string.Join(", ", chosen)})\n\nCommand: `bench/run {string.Join(' ', args)}`\n\n{markdown}");
Console.WriteLine($"written to {Path.GetRelativePath(root, file)}");
return 0;

static string FindRoot()
{
    DirectoryInfo? directory = new(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tollbooth.slnx")))
    {
        directory = directory.Parent;
    }

    return directory?.FullName ?? throw new InvalidOperationException("Run the benchmarks from inside the repository.");
}

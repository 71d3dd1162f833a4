using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Tollbooth.Microbench;

/// <summary>
/// Runs the allocation microbenchmarks: every public class of this assembly with <c>[Benchmark]</c> methods, under
/// <see cref="MicroConfig"/>, so a new seam's benchmark is one more class and nothing else. Arguments are
/// BenchmarkDotNet's own (<c>--filter '*'</c> for all, <c>--filter '*LogAppend*'</c> for one class, <c>--list flat</c>).
/// The joined table is copied to <c>bench/results/{date}-micro.md</c>, beside the throughput benchmarks' tables.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string root = FindRoot();
        string artifacts = Path.Combine(Path.GetTempPath(), "tollbooth-microbench");
        string loadBefore = LoadAverage();
        IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, MicroConfig.Create(artifacts));
        foreach (Summary summary in summaries)
        {
            string report = Path.Combine(summary.ResultsDirectoryPath, summary.Title + "-report-github.md");
            if (File.Exists(report))
            {
                string results = Path.Combine(root, "bench", "results");
                Directory.CreateDirectory(results);
                string file = Path.Combine(results, $"{DateTime.UtcNow:yyyy-MM-dd-HHmm}-micro.md");
                File.WriteAllText(
                    file,
                    $"# Microbenchmarks (per click)\n\nCommand: `bench/run micro {string.Join(' ', args)}`; load average (1, 5, 15 min) before: {loadBefore}, after: {LoadAverage()}\n\n{File.ReadAllText(report)}");
                Console.WriteLine($"written to {Path.GetRelativePath(root, file)}");
            }

            if (summary.HasCriticalValidationErrors || summary.Reports.Any(report => !report.Success))
            {
                return 1;
            }
        }

        return 0;
    }

    // The machine is shared: the load beside the figures says how far to trust the times (allocations do not vary with it).
    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "unknown";

    private static string FindRoot()
    {
        DirectoryInfo? directory = new(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tollbooth.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Run the microbenchmarks from inside the repository.");
    }
}

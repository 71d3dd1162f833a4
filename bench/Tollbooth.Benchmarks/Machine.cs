using System.Runtime.InteropServices;

namespace Tollbooth.Benchmarks;

/// <summary>What the figures were measured on: printed above every table.</summary>
public static class Machine
{
    public static string Describe()
    {
        string model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";
        string kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription;
        // The load average when the run began: these machines are shared, and a busy one halves the figures.
        string load = File.Exists("/proc/loadavg") ? $", load average {string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}" : "";
        return $"{Environment.ProcessorCount} cores, {model}, Linux {kernel}, {RuntimeInformation.FrameworkDescription}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{load}";
    }
}

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
        return $"{Environment.ProcessorCount} cores, {model}, Linux {kernel}, {RuntimeInformation.FrameworkDescription}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
    }
}

using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Tollbooth.Microbench;

/// <summary>
/// One short job for every microbenchmark, so the whole suite runs in a few minutes on a shared 2-core machine:
/// 2 warmup and 8 measured iterations in this process. In-process, because the default toolchain generates,
/// restores and builds a project per benchmark, which costs more than the measurements here and needs the package
/// feed at run time; what it would add, a fresh process per benchmark, matters little for allocation counts.
/// Memory is always diagnosed; <see cref="AllocatedPerClickColumn"/> shows the fraction of a byte that
/// BenchmarkDotNet's own Allocated column rounds away.
/// </summary>
public static class MicroConfig
{
    public static IConfig Create(string artifactsPath) => DefaultConfig.Instance
        .AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(2)
            .WithIterationCount(8)
            .WithId("micro"))
        .AddDiagnoser(MemoryDiagnoser.Default)
        .AddColumn(new AllocatedPerClickColumn())
        .WithArtifactsPath(artifactsPath)
        .WithOptions(ConfigOptions.JoinSummary);
}

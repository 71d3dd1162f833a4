// Goal: whatever the disk does (a crash at any file-system operation, a power loss dropping or tearing writes not
// yet fdatasynced and forgetting directory entries not yet fsynced, ENOSPC on a write, EIO or ENOSPC from
// fdatasync, EIO from a directory fsync), every acknowledged record is found after recovery exactly once, in order,
// at its position; nothing refused or never appended appears; recovery never throws for a torn tail; a failed fsync
// stops the log; a full disk does not. Method: CrashSimulation drives the real SegmentLog over SimulatedFileSystem for
// thousands of seeds (TOLLBOOTH_SOAK_SEEDS for more), several crash/recover lives each. A failing seed replays
// exactly, alone, with TOLLBOOTH_TEST_SEED, which also prints its trace.
using System.Diagnostics;
using System.Globalization;

namespace Tollbooth.Log.Tests;

public sealed class CrashSimulationTests(ITestOutputHelper output)
{
    private const int SeedsDefault = 3000;

    [Fact]
    public void Acknowledged_records_survive_every_simulated_crash_exactly_once_and_in_order()
    {
        (int first, int count) = Seeds();
        var totals = new CrashSimulation.Statistics();
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            int seed = unchecked(first + i);
            var trace = count == 1 ? new List<string>() : null;
            var simulation = new CrashSimulation(seed, trace is null ? null : trace.Add);
            try
            {
                simulation.Run();
            }
            catch (Exception exception)
            {
                if (trace is not null)
                {
                    trace.ForEach(output.WriteLine);
                }

                Assert.Fail(
                    $"seed {seed}: {exception.Message}\n" +
                    $"Rerun only this seed, with its trace: TOLLBOOTH_TEST_SEED={seed} dotnet test tests/Tollbooth.Log.Tests -c Release --filter FullyQualifiedName~CrashSimulationTests\n{exception}");
            }

            totals.Add(simulation.Totals);
        }

        output.WriteLine($"{count} seeds from {first} in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s: {totals}.");
        Assert.True(count < 100 || totals.ReachedEveryFault, $"the seeds did not reach every fault: {totals}");
    }

    /// <summary>TOLLBOOTH_TEST_SEED runs that seed alone; else TOLLBOOTH_SOAK_SEEDS (default 3000) seeds from a fresh one.</summary>
    private (int First, int Count) Seeds()
    {
        string? single = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED");
        if (single is not null)
        {
            int seed = int.Parse(single, CultureInfo.InvariantCulture);
            output.WriteLine($"seed {seed} alone (TOLLBOOTH_TEST_SEED)");
            return (seed, 1);
        }

        string? soak = Environment.GetEnvironmentVariable("TOLLBOOTH_SOAK_SEEDS");
        int count = soak is null ? SeedsDefault : int.Parse(soak, CultureInfo.InvariantCulture);
        int first = Random.Shared.Next();
        output.WriteLine($"seeds {first} to {unchecked(first + count - 1)} (TOLLBOOTH_SOAK_SEEDS={count}; one alone: TOLLBOOTH_TEST_SEED=<seed>)");
        return (first, count);
    }
}

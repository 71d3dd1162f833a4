// Goal (issue 17): with processors crashing, pausing, restarting and having partitions moved under them at random,
// every click appended is counted exactly once (resends as duplicates, never as clicks), and the store ends with the
// very rows, checkpoints and change feed a clean single-owner replay of the same log gives. Method: the seeded
// simulation (ClusterSimulation) over the in-memory log and store, thousands of seeds per run
// (TOLLBOOTH_SIMULATION_SEEDS, 2,000 by default); TOLLBOOTH_SIMULATION_SEED=N runs seed N alone, and a failure
// prints its seed and its trace.
using System.Globalization;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Simulation.Tests;

public sealed class ClusterSimulationTests(ITestOutputHelper output)
{
    [Fact]
    public void Processors_crashing_pausing_and_moving_at_random_count_every_click_once_and_store_what_a_clean_replay_stores()
    {
        (int first, int count) = Seeds();
        int crashes = 0, moves = 0, zombies = 0, fenced = 0;
        long clicks = 0;
        for (int seed = first; seed < first + count; seed++)
        {
            var simulation = new ClusterSimulation(seed);
            try
            {
                simulation.Run();
                AssertEveryClickCountedOnce(simulation);
                AssertSameAsCleanReplay(simulation, seed);
            }
            catch (Exception exception)
            {
                throw new Xunit.Sdk.XunitException(
                    $"seed {seed} failed (run it alone with TOLLBOOTH_SIMULATION_SEED={seed}): {exception.Message}\n" +
                    $"trace (last 60 steps):\n{string.Join("\n", simulation.Trace.TakeLast(60))}");
            }

            crashes += simulation.Crashes;
            moves += simulation.Moves;
            zombies += simulation.ZombieMoves;
            fenced += simulation.FencedCommits;
            clicks += simulation.Sent.Count;
        }

        output.WriteLine($"seeds {first}..{first + count - 1}: {clicks:N0} clicks, {crashes:N0} crashes, {moves:N0} partition moves ({zombies:N0} with the old owner not told), {fenced:N0} commits of superseded owners refused");

        // A run that never fenced anyone, crashed or moved a partition would have proved little.
        Assert.True(count < 100 || (fenced > 0 && crashes > 0 && zombies > 0), "the seeds never reached a crash, an untold move and a refused commit.");
    }

    private static (int First, int Count) Seeds()
    {
        if (Environment.GetEnvironmentVariable("TOLLBOOTH_SIMULATION_SEED") is { } one)
        {
            return (int.Parse(one, CultureInfo.InvariantCulture), 1);
        }

        string? many = Environment.GetEnvironmentVariable("TOLLBOOTH_SIMULATION_SEEDS");
        return (1, many is null ? 2_000 : int.Parse(many, CultureInfo.InvariantCulture));
    }

    // Per ad: every record appended is in exactly one row's received, resends are the duplicates, and each click id
    // ends in exactly one of counted, invalid or too late.
    private static void AssertEveryClickCountedOnce(ClusterSimulation simulation)
    {
        var rows = simulation.Store.AllRows().ToList();
        foreach (IGrouping<string, Click> ad in simulation.Sent.GroupBy(click => click.AdId))
        {
            var adRows = rows.Where(row => row.Key.AdId == ad.Key).ToList();
            int distinct = ad.Select(click => click.ClickId).Distinct().Count();
            Assert.True(ad.Count() == adRows.Sum(row => row.Received), $"{ad.Key}: {ad.Count()} records appended, {adRows.Sum(row => row.Received)} received in the stored rows.");
            Assert.True(ad.Count() - distinct == adRows.Sum(row => row.DuplicateClicks), $"{ad.Key}: {ad.Count() - distinct} resends, {adRows.Sum(row => row.DuplicateClicks)} duplicates stored.");
            Assert.True(distinct == adRows.Sum(row => row.Clicks + row.InvalidClicks + row.TooLate), $"{ad.Key}: {distinct} distinct clicks, {adRows.Sum(row => row.Clicks + row.InvalidClicks + row.TooLate)} counted, invalid or too late.");
        }

        Assert.Equal(simulation.Sent.Count, rows.Sum(row => row.Received));
    }

    // One owner per partition, never interrupted, over the same log, committing at its own pace.
    private static void AssertSameAsCleanReplay(ClusterSimulation simulation, int seed)
    {
        var random = new Random(~seed);
        var clean = new InMemoryPartitionStore(new Random(seed));
        for (int partition = 0; partition < simulation.Partitions; partition++)
        {
            using var work = new PartitionWork(partition, simulation.Log, clean, simulation.Options, new ProcessorOptions { ReadBatchRecordsMax = random.Next(1, 64), ReadBatchBytesMax = 64 << 10 });
            work.Recover();
            while (work.ApplyAvailable() > 0)
            {
                if (random.Next(4) == 0)
                {
                    work.Commit();
                }
            }

            if (work.AppliedSinceCommit > 0)
            {
                work.Commit();
            }

            Assert.Equal(clean.ReadCheckpoint(partition), simulation.Store.ReadCheckpoint(partition));
            Assert.Equal(clean.Dump(partition), simulation.Store.Dump(partition));
            Assert.Equal(clean.DumpChanges(partition), simulation.Store.DumpChanges(partition));
        }
    }
}

// Goal: a paused instance (SIGSTOP: a long GC pause, a frozen VM, a debugger) can never commit over a
// successor, because no successor can start while it lives. The data directory's lock is flock on an open
// file: the kernel holds it for the process however long it is stopped and releases it only when the process
// dies. There is no lease that could expire during the pause, so there is no window where two instances
// append to one log or commit to one store (split brain); the price is that a hung instance must be killed
// before another takes over, which an operator or supervisor does with kill -9. Method: the real program
// takes clicks, is stopped with SIGSTOP; a second `tollbooth serve` on the same directory must refuse to
// start, naming the directory; after SIGCONT the first carries on; after it is killed the second starts and
// counts everything acknowledged by the first exactly once.
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class PausedInstanceTests(ITestOutputHelper output)
{
    private const int SigStop = 19;
    private const int SigCont = 18;

    [Fact]
    public async Task Paused_instance_keeps_the_data_directory_and_a_successor_cannot_start_until_it_dies()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        var journal = new ClickJournal(seed);
        using var first = new TollboothProcess(null, "--Log:Partitions", "2");
        first.Start();
        using var client = new TollboothClient(first.BaseAddress, TollboothProcess.AdminKey);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(await journal.SendAsync(client, journal.NewBatch(random, 50)), $"seed {seed}: the first instance did not acknowledge.");
        }

        Assert.Equal(0, Sys.Kill(first.ProcessId, SigStop));
        try
        {
            // Not disposed: disposing deletes the data directory, which the first instance owns.
            var second = new TollboothProcess(first.DataDirectory, "--Log:Partitions", "2");
            Assert.Throws<InvalidOperationException>(second.Start);
            Assert.True(second.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Equal(2, second.ExitCode);
            Assert.Contains($"Another tollbooth process is using the data directory {first.DataDirectory}", second.Output);
        }
        finally
        {
            Assert.Equal(0, Sys.Kill(first.ProcessId, SigCont));
        }

        for (int i = 0; i < 5; i++)
        {
            Assert.True(await journal.SendAsync(client, journal.NewBatch(random, 50)), $"seed {seed}: the resumed instance did not acknowledge.");
        }

        first.Kill();
        var successor = new TollboothProcess(first.DataDirectory, "--Log:Partitions", "2");
        try
        {
            successor.Start();
            using var successorClient = new TollboothClient(successor.BaseAddress, TollboothProcess.AdminKey);
            await successorClient.WaitForLagZeroAsync(TimeSpan.FromMinutes(1));
            Assert.Equal(0, successor.Terminate(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            successor.Kill();
        }

        ClickJournal.Verdict verdict = journal.Check(FaultChecks.Dump(first.DataDirectory, 2));
        Assert.True(verdict.Problems.Count == 0 && verdict.Acknowledged == verdict.Clicks, $"seed {seed}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}");
        output.WriteLine($"seed {seed}: a second instance was refused while the first was stopped; after kill -9 the successor counts {verdict}.");
    }
}

// Goal: when the answer to a durable request is lost, a client that resends the same clicks (up to five
// times) has them counted once (I4), never twice, and a click whose every answer was lost is still counted
// once, because the answer is dropped only after the clicks are durable. Method: the real program runs with
// the failpoint ingest.after_durable_before_ack set to drop the connection instead of answering on every
// hit except each fifth; two clients send seeded batches and resend each one until a 202 or five attempts.
// After lag 0 the dump must count every click sent exactly once, and equal a fresh replay of the log.
using Tollbooth.Log;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class AmbiguousAckTests(ITestOutputHelper output)
{
    private const int Clients = 2;
    private const int BatchesPerClient = 60;
    private const int AttemptsMax = 5;

    [Fact]
    public async Task Clicks_resent_after_lost_answers_are_counted_once()
    {
        int seed = TestSeed.Next();
        string context = $"seed {seed} (TOLLBOOTH_TEST_SEED)";
        var journal = new ClickJournal(seed);
        using var server = new TollboothProcess(null, "--Log:Partitions", "2", "--Processing:CommitIntervalMs", "5", "--Processing:DedupSnapshotEveryRecords", "50");
        server.Environment[Failpoints.EnvironmentVariable] = $"{Failpoints.IngestAfterDurableBeforeAck}=abort:1-*/{AttemptsMax}";
        server.Start();
        int lostAnswers = 0, neverAnswered = 0;
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            int[][] perClient = await Task.WhenAll(Enumerable.Range(0, Clients).Select(async c =>
            {
                var random = new Random(unchecked((seed * 31) + c));
                int lost = 0, never = 0;
                for (int b = 0; b < BatchesPerClient; b++)
                {
                    ClickJournal.Batch batch = journal.NewBatch(random, 1 + random.Next(40));
                    int attempt = 1;
                    while (!await journal.SendAsync(client, batch))
                    {
                        Assert.True(batch.LastAnswer == 0, $"{context}: a request was answered {batch.LastAnswer} instead of losing its answer.");
                        lost++;
                        if (++attempt > AttemptsMax)
                        {
                            never++;
                            break;
                        }
                    }
                }

                return new[] { lost, never };
            }));
            lostAnswers = perClient.Sum(r => r[0]);
            neverAnswered = perClient.Sum(r => r[1]);
            await client.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string dump = FaultChecks.Dump(server.DataDirectory, 2);
        ClickJournal.Verdict verdict = journal.Check(dump);
        Assert.True(verdict.Problems.Count == 0, $"{context}: {verdict}\n{string.Join('\n', verdict.Problems.Take(20))}");
        Assert.True(verdict.UnknownNotCounted == 0, $"{context}: a click whose answer was dropped after it was durable is not counted: {verdict}");
        Assert.True(lostAnswers > 0, $"{context}: no answer was lost; the failpoint did not fire.");
        FaultChecks.AssertFreshReplayGivesTheSameRows(server.DataDirectory, 2, dump, context);
        output.WriteLine($"{context}: {journal.RequestsSent} requests, {lostAnswers} answers lost after the fsync, {neverAnswered} batches never answered in {AttemptsMax} attempts; {verdict}.");
    }
}

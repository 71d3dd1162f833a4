// Goal: kill -9 at any moment loses nothing acknowledged and counts nothing twice (I1-I4), and the
// stored rows are exactly what a replay of the log gives (I5). Method: a child `tollbooth serve`
// takes clicks with known truth from several concurrent clients; it is killed with SIGKILL at seeded
// random moments (during ingest and, with a 5 ms commit interval, during commits), at least five times;
// each restart resends every batch whose answer was lost and some that were acknowledged; after lag 0
// every ad's count must equal the number of distinct click ids sent for it. Then the rows are dumped,
// rebuilt with `tollbooth replay`, and dumped again: identical.
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Clients = 4;
    private const int KillCycles = 6;
    private const int ClicksPerBatch = 40;

    // What went wrong with unacknowledged requests, by kind: shown when the test fails.
    private static readonly ConcurrentDictionary<string, int> s_failures = new();

    [Fact]
    public async Task Killed_server_loses_no_acknowledged_click_and_counts_none_twice()
    {
        int seed = TestSeed.Next();
        var random = new Random(seed);
        var workload = new Workload(seed);
        using var server = new TollboothProcess(null, "--Processing:CommitIntervalMs", "5", "--Log:Partitions", "4", "--Processing:DedupSnapshotEveryRecords", "100", "--Archive:FlushIntervalMs", "20");
        var pending = new ConcurrentQueue<string>();
        int acknowledged = 0;
        for (int cycle = 0; cycle < KillCycles; cycle++)
        {
            server.Start();
            using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
            using var stop = new CancellationTokenSource();
            Task[] senders = Enumerable.Range(0, Clients)
                .Select(c => SendUntilStoppedAsync(client, workload, pending, new Random(seed + (cycle * 31) + c), () => Interlocked.Increment(ref acknowledged), stop.Token))
                .ToArray();
            // Kill only once this incarnation has acknowledged something (a loaded machine can take a while to
            // serve its first request), then at a random moment of its work.
            int before = Volatile.Read(ref acknowledged);
            DateTime deadline = DateTime.UtcNow.AddSeconds(60);
            while (Volatile.Read(ref acknowledged) == before && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5);
            }

            await Task.Delay(random.Next(0, 700));
            server.Kill();
            stop.Cancel();
            await Task.WhenAll(senders);
        }

        server.Start();
        using var final = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        while (pending.TryDequeue(out string? body))
        {
            await SendUntilAcknowledgedAsync(final, body);
        }

        await final.WaitForLagZeroAsync(TimeSpan.FromMinutes(2));
        foreach ((string ad, int expected) in workload.ExpectedCounts())
        {
            long counted = await final.CountAsync(ad, workload.From, workload.To);
            Assert.True(expected == counted, $"seed {seed}: ad {ad} counted {counted}, truth {expected} (acknowledged batches {acknowledged}).");
        }

        output.WriteLine(
            $"seed {seed}: {KillCycles} kill -9 cycles, {acknowledged} batches of {ClicksPerBatch} acknowledged, " +
            $"{workload.ExpectedCounts().Count()} ads and {workload.ExpectedCounts().Sum(e => e.Count)} distinct clicks: every count exact.");
        Assert.True(acknowledged > KillCycles, $"seed {seed}: only {acknowledged} batches were acknowledged; the test did not exercise the server; failures: {string.Join("; ", s_failures.Select(f => $"{f.Key} x{f.Value}"))}; server output:\n{Tail(server.Output)}");
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        long archived = AssertArchiveHoldsEveryPositionOnce(server.DataDirectory, seed);
        (int reconcileCode, string reconciled, string reconcileError) = TollboothProcess.RunVerb("reconcile", "--data", server.DataDirectory, "--Log:Partitions", "4");
        Assert.True(reconcileCode == 0, $"seed {seed}: reconcile found differences:\n{Tail(reconciled)}{reconcileError}");
        output.WriteLine($"seed {seed}: archive holds {archived} clicks, each log position once; reconcile: {reconciled.Trim().Split('\n')[^1]}");
        AssertReplayGivesTheSameRows(server.DataDirectory, seed);
    }

    // Every partition's archive holds positions 0 .. mark-1, each exactly once, across every kill.
    private static long AssertArchiveHoldsEveryPositionOnce(string dataDirectory, int seed)
    {
        string root = Path.Combine(dataDirectory, "archive");
        var positions = new Dictionary<int, List<long>>();
        foreach (string file in Tollbooth.Archive.ArchiveFiles.Of(root))
        {
            foreach (Tollbooth.Archive.ArchiveRecord record in Tollbooth.Archive.ArchiveFormat.Read(file))
            {
                (positions.TryGetValue(record.Partition, out List<long>? list) ? list : positions[record.Partition] = new List<long>()).Add(record.Position);
            }
        }

        long total = 0;
        for (int partition = 0; partition < 4; partition++)
        {
            long mark = Tollbooth.Archive.ParquetArchive.ReadMark(root, partition);
            List<long> held = positions.GetValueOrDefault(partition) ?? [];
            held.Sort();
            Assert.True(held.SequenceEqual(Enumerable.Range(0, (int)mark).Select(p => (long)p)),
                $"seed {seed}: partition {partition}'s archive holds {held.Count} positions ({held.Distinct().Count()} distinct) for a mark of {mark}.");
            total += mark;
        }

        Assert.True(total > 0, $"seed {seed}: nothing was archived.");
        return total;
    }

    private static void AssertReplayGivesTheSameRows(string dataDirectory, int seed)
    {
        string[] data = ["--data", dataDirectory, "--Log:Partitions", "4"];
        (int dumpCode, string before, string dumpError) = TollboothProcess.RunVerb(["dump", .. data]);
        Assert.True(dumpCode == 0, dumpError);
        (int replayCode, string replayOutput, string replayError) = TollboothProcess.RunVerb(["replay", .. data]);
        Assert.True(replayCode == 0, replayOutput + replayError);
        (int _, string after, string _) = TollboothProcess.RunVerb(["dump", .. data]);
        Assert.True(before == after, $"seed {seed}: rows after replay differ from rows before.\nbefore:\n{Tail(before)}\nafter:\n{Tail(after)}");
        Assert.Contains("rows ", before);
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private static async Task SendUntilStoppedAsync(TollboothClient client, Workload workload, ConcurrentQueue<string> pending, Random random, Func<int> onAcknowledged, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            // Retry first what earlier cycles left unanswered, then new batches; sometimes resend an acknowledged one.
            string body = pending.TryDequeue(out string? retry) ? retry : workload.NextBatch(random, ClicksPerBatch);
            bool acknowledged = false;
            try
            {
                using HttpResponseMessage response = await client.PostClicksAsync(body);
                acknowledged = response.StatusCode == HttpStatusCode.Accepted;
                if (!acknowledged)
                {
                    s_failures.AddOrUpdate($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}", 1, (_, n) => n + 1);
                }
            }
            catch (HttpRequestException exception)
            {
                s_failures.AddOrUpdate(exception.Message.Split('(')[0], 1, (_, n) => n + 1);
            }
            catch (TaskCanceledException)
            {
                s_failures.AddOrUpdate("timeout", 1, (_, n) => n + 1);
            }

            if (!acknowledged)
            {
                pending.Enqueue(body);
                continue;
            }

            onAcknowledged();
            if (random.Next(10) == 0)
            {
                pending.Enqueue(body);
            }
        }
    }

    private static async Task SendUntilAcknowledgedAsync(TollboothClient client, string body)
    {
        using HttpResponseMessage response = await client.PostClicksAsync(body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    /// <summary>The known truth: which click ids were sent for each ad, duplicates included in the batches.</summary>
    private sealed class Workload(int seed)
    {
        private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, bool>> _idsByAd = new();
        private readonly DateTimeOffset _base = DateTimeOffset.UtcNow.AddMinutes(-20);
        private long _sequence;

        public string From => _base.AddHours(-1).ToString("O");

        public string To => _base.AddHours(1).ToString("O");

        public string NextBatch(Random random, int size)
        {
            var body = new StringBuilder("[");
            var inBatch = new List<(string Id, string Ad, long Ms)>();
            for (int i = 0; i < size; i++)
            {
                (string id, string ad, long ms) = inBatch.Count > 0 && random.Next(8) == 0
                    ? inBatch[random.Next(inBatch.Count)]
                    : ($"s{seed}-{Interlocked.Increment(ref _sequence)}", $"ad{random.Next(25):D2}", _base.AddSeconds(random.Next(600)).ToUnixTimeMilliseconds());
                inBatch.Add((id, ad, ms));
                _idsByAd.GetOrAdd(ad, _ => new())[id] = true;
                body.Append(i == 0 ? "" : ",")
                    .Append($"{{\"click_id\":\"{id}\",\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"user_id\":\"u{random.Next(100)}\",\"timestamp\":{ms},\"cost_micros\":{random.Next(1000)}}}");
            }

            return body.Append(']').ToString();
        }

        public IEnumerable<(string Ad, int Count)> ExpectedCounts() =>
            _idsByAd.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Key, e.Value.Count));
    }
}

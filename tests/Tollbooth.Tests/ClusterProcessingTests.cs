// Goal (issue 17): a cluster's process members, killed with SIGKILL under load and started again, count every click
// exactly once, and the rows they leave in PostgreSQL are the rows one clean owner per partition makes from the same
// Kafka log. Method: PostgreSQL 15 started by the test on a free port; `tollbooth dev-kafka` in its own process;
// three `tollbooth serve --role process` members; this test process produces clicks (5% resends) into the topic as
// an ingest member would, kills a random member every few seconds (TOLLBOOTH_CLUSTER_KILLS, 4 by default) and
// restarts it; then waits for every partition's stored checkpoint to reach Kafka's high watermark and checks the
// counts against what it sent and the rows against a replay into a second database.
using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Kafka;
using Tollbooth.Postgres;
using Tollbooth.Processing;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class ClusterProcessingTests(ITestOutputHelper output)
{
    private const int Partitions = 6;
    private const int Members = 3;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Process_members_killed_under_load_count_every_click_once_and_store_the_rows_of_a_clean_replay()
    {
        int kills = int.Parse(Environment.GetEnvironmentVariable("TOLLBOOTH_CLUSTER_KILLS") ?? "4", System.Globalization.CultureInfo.InvariantCulture);
        int seed = TestSeed.Next();
        output.WriteLine($"seed {seed} (replay with TOLLBOOTH_TEST_SEED={seed}), {kills} kills");
        var random = new Random(seed);
        using PostgresCluster postgres = PostgresCluster.Start();
        CreateDatabase(postgres, "cluster");
        CreateDatabase(postgres, "replay");
        using var kafka = DevKafkaProcess.Start("--topic", "clicks", "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string storeUrl = $"postgres://{PostgresCluster.User}@127.0.0.1:{postgres.Port}/cluster";
        string logUrl = $"kafka://{kafka.BootstrapServers}/clicks";
        var members = Enumerable.Range(0, Members).Select(_ => new Member(logUrl, storeUrl)).ToList();
        try
        {
            members.ForEach(member => member.Start());
            using KafkaClickLog log = KafkaClickLog.Open(new KafkaClickLogOptions { BootstrapServers = kafka.BootstrapServers, Topic = "clicks" });
            var sender = new Sender(log, random);

            for (int kill = 0; kill < kills; kill++)
            {
                await sender.SendForAsync(TimeSpan.FromMilliseconds(random.Next(1_500, 3_500)));
                Member victim = members[random.Next(Members)];
                victim.Kill();
                output.WriteLine($"killed member {members.IndexOf(victim)} after {sender.Sent.Count:N0} clicks");
                await sender.SendForAsync(TimeSpan.FromMilliseconds(random.Next(200, 1_500)));
                victim.Start();
            }

            await sender.SendForAsync(TimeSpan.FromSeconds(2));
            using PostgresPartitionStore store = PostgresPartitionStore.Open(postgres.ConnectionString + ";Database=cluster");
            await Poll.UntilAsync(
                () => Enumerable.Range(0, Partitions).All(p => store.ReadCheckpoint(p).NextPosition == log.DurableEnd(p)),
                s_deadline,
                () => $"every partition's checkpoint to reach the topic's end: {string.Join(", ", Enumerable.Range(0, Partitions).Select(p => $"{store.ReadCheckpoint(p).NextPosition}/{log.DurableEnd(p)}"))}\n{string.Join("\n---\n", members.Select(m => m.Output))}");

            AssertEveryClickCountedOnce(sender.Sent, store.ReadAllRows());
            using PostgresPartitionStore replay = PostgresPartitionStore.Open(postgres.ConnectionString + ";Database=replay");
            for (int partition = 0; partition < Partitions; partition++)
            {
                using var work = new PartitionWork(partition, log, replay, new AggregatorOptions(), new ProcessorOptions());
                work.Recover();
                while (work.CommittedPosition < log.DurableEnd(partition))
                {
                    work.ApplyAvailable();
                    work.Commit();
                }

                Assert.Equal(replay.ReadCheckpoint(partition), store.ReadCheckpoint(partition));
                Assert.Equal(replay.ReadChangesText(partition), store.ReadChangesText(partition));
            }

            Assert.Equal(replay.ReadAllRows().Select(Describe), store.ReadAllRows().Select(Describe));
            output.WriteLine($"{sender.Sent.Count:N0} clicks ({sender.Resends:N0} resends) counted once through {kills} kills");
            foreach (Member member in members)
            {
                Assert.Equal(0, member.Terminate(TimeSpan.FromSeconds(60)));
            }
        }
        finally
        {
            members.ForEach(member => member.Dispose());
        }
    }

    private static void AssertEveryClickCountedOnce(IReadOnlyList<Click> sent, IReadOnlyList<(int Partition, WindowRow Row)> rows)
    {
        Assert.Equal(sent.Count, rows.Sum(r => r.Row.Received));
        int distinct = sent.Select(c => c.ClickId).Distinct().Count();
        Assert.Equal(sent.Count - distinct, rows.Sum(r => r.Row.DuplicateClicks));
        Assert.Equal(distinct, rows.Sum(r => r.Row.Clicks + r.Row.InvalidClicks + r.Row.TooLate));
    }

    private static string Describe((int Partition, WindowRow Row) stored)
    {
        WindowRow row = stored.Row;
        return $"{stored.Partition} {row.Key} {row.Received} {row.Clicks} {row.SpendMicros} {row.DuplicateClicks} {row.InvalidClicks} {row.TooLate} {row.LateClicks} " +
            $"{row.RuleVersion} {row.Status} {row.Revision} {row.Pending} {Convert.ToHexString(row.Users.Serialize())}";
    }

    private static void CreateDatabase(PostgresCluster postgres, string name)
    {
        using var connection = new Npgsql.NpgsqlConnection(postgres.ConnectionString);
        connection.Open();
        using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
        create.ExecuteNonQuery();
    }

    /// <summary>Produces clicks as an ingest member would: 200-click appends, one in twenty a resend of an earlier click.</summary>
    private sealed class Sender(KafkaClickLog log, Random random)
    {
        private readonly List<Click> _sent = new();
        private readonly long _startMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        public IReadOnlyList<Click> Sent => _sent;

        public int Resends { get; private set; }

        public async Task SendForAsync(TimeSpan duration)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < duration)
            {
                var perPartition = new List<byte[]>?[Partitions];
                for (int i = 0; i < 200; i++)
                {
                    long now = _startMs + (_sent.Count * 5L);
                    Click click;
                    if (_sent.Count > 0 && random.Next(20) == 0)
                    {
                        Click earlier = _sent[random.Next(_sent.Count)];
                        click = new Click { ClickId = earlier.ClickId, AdId = earlier.AdId, AdvertiserId = earlier.AdvertiserId, UserId = earlier.UserId, TimestampMs = earlier.TimestampMs, ReceivedMs = now };
                        Resends++;
                    }
                    else
                    {
                        int ad = random.Next(30);
                        click = new Click { ClickId = $"cl{_sent.Count}", AdId = $"ad{ad}", AdvertiserId = $"adv{ad % 3}", UserId = $"u{random.Next(2_000)}", TimestampMs = now - random.Next(0, 5_000), ReceivedMs = now };
                    }

                    _sent.Add(click);
                    (perPartition[Partitioner.PartitionOf(click.AdId, Partitions)] ??= new()).Add(ClickCodec.Encode(click));
                }

                await Task.WhenAll(Enumerable.Range(0, Partitions).Where(p => perPartition[p] is not null).Select(p => log.AppendAsync(p, perPartition[p]!)));
                await Task.Delay(20);
            }
        }
    }

    /// <summary>One `serve --role process` member, started and SIGKILLed at will.</summary>
    private sealed class Member(string logUrl, string storeUrl) : IDisposable
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();
        private Process? _process;

        public string Output => string.Join('\n', _output.TakeLast(40));

        public void Start()
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in (string[])[TollboothProcess.ProgramPath(), "serve", "--role", "process", "--log", logUrl, "--store", storeUrl,
                "--Processing:GroupSessionTimeoutMs", "3000", "--Processing:CommitIntervalMs", "100"])
            {
                start.ArgumentList.Add(arg);
            }

            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, line) => Keep(line.Data);
            _process.ErrorDataReceived += (_, line) => Keep(line.Data);
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public void Kill()
        {
            _process!.Kill();
            _process.WaitForExit();
        }

        public int? Terminate(TimeSpan timeout)
        {
            Sys.Kill(_process!.Id, Sys.SigTerm);
            return _process.WaitForExit(timeout) ? _process.ExitCode : null;
        }

        public void Dispose()
        {
            if (_process is { HasExited: false })
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process?.Dispose();
        }

        private void Keep(string? line)
        {
            if (line is not null)
            {
                _output.Enqueue(line);
            }
        }
    }
}

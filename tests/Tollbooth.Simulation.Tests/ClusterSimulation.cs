using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Simulation.Tests;

/// <summary>
/// Several processing members over one in-memory log and store, driven step by step from one seed: clicks (and
/// resends of them) are appended, records become durable in uneven steps, and members recover, apply, commit, crash
/// (losing everything not committed), pause and resume, while a coordinator moves partitions between them, telling
/// the old owner (a cooperative revoke) or not (an owner paused past its session timeout, which wakes up still
/// holding the partition and must not count). At the end every partition is drained by its owner. Every decision
/// comes from the seed, so one seed replays exactly.
/// </summary>
public sealed class ClusterSimulation
{
    private const int Ads = 7;
    private const int Users = 40;
    private static readonly long s_startMs = new DateTimeOffset(2026, 11, 2, 9, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private readonly Random _random;
    private readonly int _partitions;
    private readonly Member[] _members;
    private readonly int[] _owner;
    private readonly List<Click> _sent = new();
    private readonly List<string> _trace = new();
    private long _eventTimeMs = s_startMs;

    public ClusterSimulation(int seed)
    {
        _random = new Random(seed);
        _partitions = _random.Next(1, 5);
        _members = Enumerable.Range(0, _random.Next(1, 4)).Select(id => new Member(id)).ToArray();
        _owner = Enumerable.Range(0, _partitions).Select(p => p % _members.Length).ToArray();
        Log = new InMemoryClickLog(_partitions);
        Store = new InMemoryPartitionStore(new Random(seed ^ 0x5EED));
        Options = new AggregatorOptions { ResidentRowsInitialCapacity = 64 };
    }

    public InMemoryClickLog Log { get; }

    public InMemoryPartitionStore Store { get; }

    public AggregatorOptions Options { get; }

    public int Partitions => _partitions;

    /// <summary>Every click appended, resends included, in order.</summary>
    public IReadOnlyList<Click> Sent => _sent;

    /// <summary>What happened, step by step: printed when a check fails.</summary>
    public IReadOnlyList<string> Trace => _trace;

    /// <summary>Faults the run went through, for the test's summary.</summary>
    public int Crashes { get; private set; }

    public int Moves { get; private set; }

    public int ZombieMoves { get; private set; }

    public int FencedCommits { get; private set; }

    public void Run()
    {
        int steps = _random.Next(50, 400);
        for (int step = 0; step < steps; step++)
        {
            int dice = _random.Next(100);
            if (dice < 25)
            {
                Append(_random.Next(1, 25));
            }
            else if (dice < 40)
            {
                int partition = _random.Next(_partitions);
                int records = _random.Next(1, 40);
                Log.MakeDurable(partition, records);
            }
            else if (dice < 85)
            {
                StepMember(_members[_random.Next(_members.Length)]);
            }
            else if (dice < 90)
            {
                Crash(_members[_random.Next(_members.Length)]);
            }
            else if (dice < 95)
            {
                Member member = _members[_random.Next(_members.Length)];
                member.Paused = !member.Paused;
                _trace.Add($"member {member.Id} {(member.Paused ? "paused" : "resumed")}");
            }
            else
            {
                Move(_random.Next(_partitions), _random.Next(_members.Length), tellOldOwner: _random.Next(2) == 0);
            }
        }

        Drain();
    }

    /// <summary>Every member resumes; zombies step once more (and must be refused); each owner applies and commits everything durable.</summary>
    private void Drain()
    {
        _trace.Add("drain");
        foreach (Member member in _members)
        {
            member.Paused = false;
            foreach (int partition in member.Works.Keys.Where(p => _owner[p] != member.Id).ToList())
            {
                StepWork(member, partition);
            }
        }

        Log.MakeAllDurable();
        for (int partition = 0; partition < _partitions; partition++)
        {
            Member owner = _members[_owner[partition]];
            PartitionWork work = WorkOf(owner, partition);
            while (work.CommittedPosition < Log.DurableEnd(partition))
            {
                work.ApplyAvailable();
                work.Commit();
            }
        }
    }

    private void Append(int clicks)
    {
        var perPartition = new List<byte[]>?[_partitions];
        for (int i = 0; i < clicks; i++)
        {
            Click click = _sent.Count > 0 && _random.Next(10) == 0 ? Resend(_sent[_random.Next(_sent.Count)]) : NewClick();
            _sent.Add(click);
            (perPartition[Partitioner.PartitionOf(click.AdId, _partitions)] ??= new()).Add(ClickCodec.Encode(click));
        }

        for (int partition = 0; partition < _partitions; partition++)
        {
            if (perPartition[partition] is { } payloads)
            {
                Log.AppendAsync(partition, payloads);
            }
        }

        _trace.Add($"appended {clicks} clicks");
    }

    // Event time moves on about 150 ms a click, with some clicks seconds out of order and a few half an hour late.
    private Click NewClick()
    {
        _eventTimeMs += _random.Next(0, 300);
        long timestampMs = _random.Next(50) == 0 ? _eventTimeMs - 1_800_000 : _eventTimeMs - _random.Next(0, 8_000);
        int ad = _random.Next(Ads);
        return new Click
        {
            ClickId = $"c{_sent.Count}",
            AdId = $"ad{ad}",
            AdvertiserId = $"adv{ad % 3}",
            CampaignId = $"camp{ad % 2}",
            PublisherId = $"pub{_random.Next(2)}",
            UserId = $"u{_random.Next(Users)}",
            Country = _random.Next(3) == 0 ? "DE" : "US",
            Device = (Device)_random.Next(0, 4),
            CostMicros = _random.Next(0, 3) * 250_000,
            TimestampMs = timestampMs,
            ReceivedMs = _eventTimeMs,
        };
    }

    // A client's resend: the same click, received again later.
    private Click Resend(Click original) => new()
    {
        ClickId = original.ClickId,
        AdId = original.AdId,
        AdvertiserId = original.AdvertiserId,
        CampaignId = original.CampaignId,
        PublisherId = original.PublisherId,
        UserId = original.UserId,
        Country = original.Country,
        Device = original.Device,
        CostMicros = original.CostMicros,
        TimestampMs = original.TimestampMs,
        ReceivedMs = _eventTimeMs,
    };

    private void StepMember(Member member)
    {
        if (member.Paused)
        {
            return;
        }

        // A member works on the partitions it was given and on any it still holds without knowing they moved.
        List<int> candidates = Enumerable.Range(0, _partitions).Where(p => _owner[p] == member.Id || member.Works.ContainsKey(p)).ToList();
        if (candidates.Count > 0)
        {
            StepWork(member, candidates[_random.Next(candidates.Count)]);
        }
    }

    private void StepWork(Member member, int partition)
    {
        PartitionWork work = WorkOf(member, partition);
        int applied = work.ApplyAvailable();
        if (work.AppliedSinceCommit > 0 && (applied == 0 || _random.Next(3) == 0))
        {
            try
            {
                work.Commit();
                _trace.Add($"member {member.Id} committed partition {partition} up to {work.CommittedPosition} (epoch {work.Lease.Epoch})");
            }
            catch (PartitionFencedException)
            {
                // Its partition was claimed since (it moved, maybe back again): whatever it applied is dropped, and
                // if the partition is its own again, its next step recovers it from the store.
                _trace.Add($"member {member.Id} was fenced off partition {partition} (epoch {work.Lease.Epoch}) and drops it");
                FencedCommits++;
                work.Dispose();
                member.Works.Remove(partition);
            }
        }
    }

    // The member's work on the partition, recovered (claiming it) when the member has none.
    private PartitionWork WorkOf(Member member, int partition)
    {
        if (!member.Works.TryGetValue(partition, out PartitionWork? work))
        {
            work = new PartitionWork(partition, Log, Store, Options, new ProcessorOptions { ReadBatchRecordsMax = _random.Next(1, 64), ReadBatchBytesMax = 64 << 10 });
            work.Recover();
            member.Works[partition] = work;
            _trace.Add($"member {member.Id} recovered partition {partition} at {work.CommittedPosition} (epoch {work.Lease.Epoch})");
        }

        return work;
    }

    private void Crash(Member member)
    {
        foreach (PartitionWork work in member.Works.Values)
        {
            work.Dispose();
        }

        member.Works.Clear();
        member.Paused = false;
        Crashes++;
        _trace.Add($"member {member.Id} crashed");
    }

    private void Move(int partition, int to, bool tellOldOwner)
    {
        int from = _owner[partition];
        if (from == to)
        {
            return;
        }

        _owner[partition] = to;
        Moves++;

        // Assigned a partition it still holds from before (it moved away untold and came back): the new owner starts
        // it afresh from the store, as a consumer does on an assignment.
        if (_members[to].Works.Remove(partition, out PartitionWork? held))
        {
            held.Dispose();
        }

        Member old = _members[from];
        if (tellOldOwner && !old.Paused && old.Works.Remove(partition, out PartitionWork? work))
        {
            // A cooperative revoke: the old owner commits what it applied and lets go. Its lease may be superseded
            // already (the partition moved away from it before, untold, and came back): then nothing is written.
            if (work.AppliedSinceCommit > 0)
            {
                try
                {
                    work.Commit();
                }
                catch (PartitionFencedException)
                {
                    FencedCommits++;
                }
            }

            work.Dispose();
            _trace.Add($"partition {partition} moved from member {from} to {to}, revoked");
        }
        else
        {
            ZombieMoves++;
            _trace.Add($"partition {partition} moved from member {from} to {to}; member {from} was not told");
        }
    }

    private sealed class Member(int id)
    {
        public int Id { get; } = id;

        public bool Paused { get; set; }

        public Dictionary<int, PartitionWork> Works { get; } = new();
    }
}

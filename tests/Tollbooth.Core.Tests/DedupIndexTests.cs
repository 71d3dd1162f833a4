// Goal: the dedup index answers I4 exactly: an id's first position while it is remembered, nothing after
// it expires, the same answers whether or not it grew, was compacted or came from a snapshot (I5), a
// refusal at its limits, and at most 32 bytes of table per id. Method: small hand-built cases for each
// rule, then a seeded random workload (new ids, repeats, late events, replays) checked step by step
// against a plain dictionary model with the same expiry rule. TOLLBOOTH_TEST_SEED replays a failure.
using System.Globalization;
using Tollbooth.Core;

namespace Tollbooth.Core.Tests;

public sealed class DedupIndexTests
{
    private const long IdsMax = 10_000_000;
    private static readonly long s_minute = DateTimeOffset.Parse("2026-11-22T10:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeSeconds() / 60;
    private static readonly UInt128 s_a = ClickFingerprint.Of("a");
    private static readonly UInt128 s_b = ClickFingerprint.Of("b");

    [Fact]
    public void First_sighting_returns_its_position()
    {
        var index = new DedupIndex(IdsMax);
        Assert.Equal(7, index.Observe(s_a, 7, s_minute, long.MinValue));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void Id_seen_again_returns_its_first_position()
    {
        var index = new DedupIndex(IdsMax);
        index.Observe(s_a, 7, s_minute, long.MinValue);
        Assert.Equal(7, index.Observe(s_a, 9, s_minute + 1, long.MinValue));
        Assert.Equal(7, index.Observe(s_a, 12, s_minute, s_minute));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void Replay_of_the_first_position_returns_that_position()
    {
        var index = new DedupIndex(IdsMax);
        index.Observe(s_a, 7, s_minute, long.MinValue);
        index.Observe(s_a, 9, s_minute, long.MinValue);
        Assert.Equal(7, index.Observe(s_a, 7, s_minute, long.MinValue));
    }

    [Fact]
    public void Id_is_forgotten_once_its_minute_is_before_forget_before_minute()
    {
        var index = new DedupIndex(IdsMax);
        index.Observe(s_a, 7, s_minute, long.MinValue);
        Assert.Equal(7, index.Observe(s_a, 8, s_minute + 60, s_minute));
        Assert.Equal(9, index.Observe(s_a, 9, s_minute + 60, s_minute + 1));
    }

    [Fact]
    public void Expired_entry_is_overwritten_in_place()
    {
        var index = new DedupIndex(IdsMax);
        index.Observe(s_a, 7, s_minute, long.MinValue);
        Assert.Equal(20, index.Observe(s_a, 20, s_minute + 60, s_minute + 1));
        Assert.Equal(1, index.Count);
        Assert.Equal(20, index.Observe(s_a, 21, s_minute + 61, s_minute + 1));
    }

    [Fact]
    public void Id_already_expired_when_first_seen_is_not_remembered()
    {
        var index = new DedupIndex(IdsMax);
        Assert.Equal(3, index.Observe(s_a, 3, s_minute - 1, s_minute));
        Assert.Equal(0, index.Count);
        Assert.Equal(4, index.Observe(s_a, 4, s_minute, s_minute));
    }

    [Fact]
    public void Compact_drops_expired_ids_and_keeps_every_decision()
    {
        var index = new DedupIndex(IdsMax, initialCapacity: 16);
        for (int i = 0; i < 1_000; i++)
        {
            index.Observe(Id(i), 100 + i, s_minute + (i / 100), long.MinValue);
        }

        index.Compact(s_minute + 5);
        Assert.Equal(500, index.Count);
        Assert.True(index.BytesPerId <= 32, $"{index.BytesPerId} bytes per id");
        for (int i = 0; i < 1_000; i++)
        {
            long expected = i < 500 ? 5_000 + i : 100 + i;
            Assert.Equal(expected, index.Observe(Id(i), 5_000 + i, s_minute + 10, s_minute + 5));
        }
    }

    [Fact]
    public void Growth_keeps_every_entry()
    {
        var index = new DedupIndex(IdsMax, initialCapacity: 16);
        var capacities = new HashSet<long>();
        for (int i = 0; i < 100_000; i++)
        {
            index.Observe(Id(i), i, s_minute, long.MinValue);
            capacities.Add(index.Capacity);
        }

        Assert.True(capacities.Count > 20, $"{capacities.Count} capacities");
        for (int i = 0; i < 100_000; i++)
        {
            Assert.Equal(i, index.Observe(Id(i), 200_000, s_minute, long.MinValue));
        }

        Assert.Equal(100_000, index.Count);
    }

    [Fact]
    public void Replay_below_the_compacted_base_is_remembered_exactly()
    {
        var index = new DedupIndex(IdsMax);
        UInt128 d = Id(1);
        UInt128 e = Id(2);
        index.Observe(d, 1_000, s_minute, long.MinValue);
        index.Observe(d, 1_001, s_minute + 3, long.MinValue);
        index.Observe(e, 1_002, s_minute + 2, long.MinValue);
        index.Compact(s_minute + 1); // drops d; the base moves up to 1,002
        Assert.Equal(1_001, index.Observe(d, 1_001, s_minute + 3, s_minute + 1));
        Assert.Equal(1_001, index.Observe(d, 5_000, s_minute + 3, s_minute + 1));
        Assert.Equal(1_002, index.Observe(e, 5_001, s_minute + 3, s_minute + 1));
    }

    [Fact]
    public void Positions_far_from_zero_are_stored_exactly()
    {
        var index = new DedupIndex(IdsMax);
        long start = 5_000_000_000_000;
        index.Observe(s_a, start, s_minute, long.MinValue);
        index.Observe(s_b, start + DedupIndex.RelativePositionMax, s_minute, long.MinValue);
        Assert.Equal(start, index.Observe(s_a, start + 1, s_minute, long.MinValue));
        Assert.Equal(start + DedupIndex.RelativePositionMax, index.Observe(s_b, long.MaxValue, s_minute, long.MinValue));
    }

    [Fact]
    public void Positions_too_far_apart_are_refused_until_compacted()
    {
        var index = new DedupIndex(IdsMax);
        index.Observe(s_a, 0, s_minute, long.MinValue);
        var error = Assert.Throws<InvalidOperationException>(() => index.Observe(s_b, 1L << 40, s_minute + 1, s_minute));
        Assert.Contains("dedup_horizon", error.Message);
        Assert.Equal(1, index.Count);
        index.Compact(s_minute + 1);
        Assert.Equal(1L << 40, index.Observe(s_b, 1L << 40, s_minute + 1, s_minute + 1));
    }

    [Fact]
    public void Full_index_throws_dedup_full_with_the_settings_to_change()
    {
        var index = new DedupIndex(idsMax: 100, initialCapacity: 16);
        for (int i = 0; i < 100; i++)
        {
            index.Observe(Id(i), i, s_minute + (i % 2), long.MinValue);
        }

        var error = Assert.Throws<DedupFullException>(() => index.Observe(Id(100), 100, s_minute, long.MinValue));
        Assert.Equal(100, error.IdsMax);
        Assert.Contains("Processing__DedupIdsMax", error.Message);
        Assert.Contains("dedup_horizon", error.Message);

        // At the limit, known ids, overwrites of expired ids and ids expired at once still work.
        Assert.Equal(3, index.Observe(Id(3), 101, s_minute, long.MinValue));
        Assert.Equal(102, index.Observe(Id(0), 102, s_minute + 1, s_minute + 1));
        Assert.Equal(103, index.Observe(Id(100), 103, s_minute, s_minute + 1));
        index.Compact(s_minute + 1);
        Assert.Equal(104, index.Observe(Id(100), 104, s_minute + 1, s_minute + 1));
    }

    [Fact]
    public void Snapshot_round_trip_gives_identical_decisions()
    {
        var index = new DedupIndex(IdsMax, initialCapacity: 16);
        for (int i = 0; i < 10_000; i++)
        {
            index.Observe(Id(i), 1_000 + i, s_minute + (i / 1_000), long.MinValue);
        }

        DedupIndex copy = RoundTrip(index);
        Assert.Equal((index.Count, index.Capacity, index.InitialCapacity), (copy.Count, copy.Capacity, copy.InitialCapacity));
        for (int i = 0; i < 12_000; i++)
        {
            Assert.Equal(index.Observe(Id(i), 20_000 + i, s_minute + 9, s_minute + 5), copy.Observe(Id(i), 20_000 + i, s_minute + 9, s_minute + 5));
        }
    }

    [Theory]
    [InlineData(0, "magic")]
    [InlineData(4, "version")]
    [InlineData(9, "header is damaged")]
    [InlineData(DedupIndex.SnapshotHeaderSize + 5, "content is damaged")]
    [InlineData(-3, "content is damaged")]
    public void Corrupt_snapshot_is_refused(int offset, string complaint)
    {
        byte[] bytes = SnapshotOf(SmallIndex());
        bytes[offset < 0 ? bytes.Length + offset : offset] ^= 0x10;
        var error = Assert.Throws<InvalidDataException>(() => DedupIndex.ReadSnapshot(new MemoryStream(bytes), IdsMax));
        Assert.Contains(complaint, error.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(DedupIndex.SnapshotHeaderSize + 100)]
    [InlineData(-1)]
    public void Truncated_snapshot_is_refused(int length)
    {
        byte[] bytes = SnapshotOf(SmallIndex());
        byte[] truncated = bytes[..(length < 0 ? bytes.Length + length : length)];
        var error = Assert.Throws<InvalidDataException>(() => DedupIndex.ReadSnapshot(new MemoryStream(truncated), IdsMax));
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Snapshot_with_more_ids_than_the_limit_is_refused()
    {
        byte[] bytes = SnapshotOf(SmallIndex());
        Assert.Throws<DedupFullException>(() => DedupIndex.ReadSnapshot(new MemoryStream(bytes), idsMax: 10));
    }

    [Fact]
    public void Memory_stays_at_most_32_bytes_per_id_up_to_a_million_ids()
    {
        int seed = Seed();
        var random = new Random(seed);
        var index = new DedupIndex(IdsMax);
        Assert.Equal(index.Capacity * DedupIndex.SlotBytes, index.MemoryBytes);
        long capacity = index.Capacity;
        int growths = 0;
        for (int i = 0; i < 1_000_000; i++)
        {
            index.Observe(RandomId(random), i, s_minute, long.MinValue);
            growths += index.Capacity != capacity ? 1 : 0;
            capacity = index.Capacity;
            if (index.Count > index.InitialCapacity && index.BytesPerId > 32)
            {
                Assert.Fail($"seed {seed}: {index.BytesPerId:F2} bytes per id at {index.Count} ids, capacity {index.Capacity}");
            }
        }

        Assert.Equal(1_000_000, index.Count);
        Assert.True(growths >= 10, $"{growths} growths");
        Assert.True(index.BytesPerId is >= 24 / 0.9 and <= 32, $"{index.BytesPerId} bytes per id");
    }

    [Fact]
    public void Observe_allocates_nothing_between_growths()
    {
        var index = new DedupIndex(IdsMax, initialCapacity: 1 << 20);
        var ids = new UInt128[100_000];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = Id(i);
        }

        index.Observe(s_a, 0, s_minute, long.MinValue);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < ids.Length; i++)
        {
            index.Observe(ids[i], i, s_minute + (i / 10_000), s_minute + (i / 20_000));
            index.Observe(ids[i / 2], i, s_minute + (i / 10_000), s_minute + (i / 20_000));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Random_workload_decides_like_a_dictionary_through_growth_compaction_and_snapshots()
    {
        int seed = Seed();
        var workload = new DedupWorkload(seed, s_minute);
        var model = new Dictionary<UInt128, (long Position, long Minute)>();
        var plain = new DedupIndex(IdsMax, initialCapacity: 16);
        var compacted = new DedupIndex(IdsMax, initialCapacity: 16);
        var restored = new DedupIndex(IdsMax, initialCapacity: 16);
        int compactions = 0;
        int snapshots = 0;
        for (int step = 0; step < 250_000; step++)
        {
            (UInt128 id, long position, long minute, long forgetBefore) = workload.Next();
            long expected = ModelObserve(model, id, position, minute, forgetBefore);
            CheckSame(seed, step, expected, plain.Observe(id, position, minute, forgetBefore), "plain");
            CheckSame(seed, step, expected, compacted.Observe(id, position, minute, forgetBefore), "compacted");
            CheckSame(seed, step, expected, restored.Observe(id, position, minute, forgetBefore), "restored");
            if (workload.Random.Next(5_000) == 0)
            {
                compacted.Compact(forgetBefore);
                compactions++;
            }

            if (workload.Random.Next(20_000) == 0)
            {
                restored.Compact(forgetBefore);
                restored = RoundTrip(restored);
                snapshots++;
            }
        }

        Assert.True(compactions >= 10 && snapshots >= 3, $"seed {seed}: {compactions} compactions, {snapshots} snapshots");
        Assert.True(workload.Replays >= 5, $"seed {seed}: {workload.Replays} replays");
        Assert.True(plain.Capacity > 1_000 && compacted.Capacity < plain.Capacity, $"seed {seed}: capacities {plain.Capacity}, {compacted.Capacity}");
    }

    private static long ModelObserve(Dictionary<UInt128, (long Position, long Minute)> model, UInt128 id, long position, long minute, long forgetBefore)
    {
        if (model.TryGetValue(id, out (long Position, long Minute) stored) && stored.Minute >= forgetBefore)
        {
            return stored.Position;
        }

        if (minute >= forgetBefore)
        {
            model[id] = (position, minute);
        }

        return position;
    }

    private static void CheckSame(int seed, int step, long expected, long actual, string which)
    {
        if (expected != actual)
        {
            Assert.Fail($"seed {seed}, step {step}: the {which} index returned {actual}, the model {expected}");
        }
    }

    private static DedupIndex SmallIndex()
    {
        var index = new DedupIndex(IdsMax, initialCapacity: 16);
        for (int i = 0; i < 100; i++)
        {
            index.Observe(Id(i), i, s_minute, long.MinValue);
        }

        return index;
    }

    private static byte[] SnapshotOf(DedupIndex index)
    {
        var stream = new MemoryStream();
        index.WriteSnapshot(stream);
        return stream.ToArray();
    }

    private static DedupIndex RoundTrip(DedupIndex index) => DedupIndex.ReadSnapshot(new MemoryStream(SnapshotOf(index)), IdsMax);

    private static UInt128 Id(int i) => ClickFingerprint.Of($"click-{i}");

    private static UInt128 RandomId(Random random) => new((ulong)random.NextInt64(), (ulong)random.NextInt64());

    private static int Seed()
    {
        string? text = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED");
        return text is null ? 424_242 : int.Parse(text, CultureInfo.InvariantCulture);
    }

    // Log-ordered clicks: mostly new ids, repeats of recent and old ids, events up to a few minutes out of
    // order, some very late ones, and now and then a replay of the last few thousand positions.
    private sealed class DedupWorkload
    {
        private const long HorizonMinutes = 30;
        private const int EventsPerMinute = 400;

        private readonly List<(UInt128 Id, long Minute)> _log = new();
        private readonly List<UInt128> _ids = new();
        private readonly long _startMinute;
        private long _maxMinute = long.MinValue;
        private int _replayPosition = -1;

        public DedupWorkload(int seed, long startMinute)
        {
            Random = new Random(seed);
            _startMinute = startMinute;
        }

        public Random Random { get; }

        public int Replays { get; private set; }

        public (UInt128 Id, long Position, long Minute, long ForgetBefore) Next()
        {
            if (_replayPosition < 0 && _log.Count > 5_000 && Random.Next(10_000) == 0)
            {
                _replayPosition = _log.Count - 1 - Random.Next(5_000);
                Replays++;
            }

            if (_replayPosition >= 0)
            {
                int position = _replayPosition++;
                _replayPosition = _replayPosition == _log.Count ? -1 : _replayPosition;
                return (_log[position].Id, position, _log[position].Minute, _maxMinute - HorizonMinutes);
            }

            long minute = _startMinute + (_log.Count / EventsPerMinute) - Random.Next(3);
            minute -= Random.Next(100) == 0 ? Random.Next(2 * (int)HorizonMinutes) : 0;
            UInt128 id = NextId();
            _log.Add((id, minute));
            _maxMinute = Math.Max(_maxMinute, minute);
            return (id, _log.Count - 1, minute, _maxMinute - HorizonMinutes);
        }

        private UInt128 NextId()
        {
            int kind = Random.Next(10);
            if (kind < 6 || _ids.Count == 0)
            {
                _ids.Add(ClickFingerprint.Of($"click-{_ids.Count}"));
                return _ids[^1];
            }

            int back = kind < 9 ? Random.Next(Math.Min(_ids.Count, 2_000)) : Random.Next(_ids.Count);
            return _ids[_ids.Count - 1 - back];
        }
    }
}

// Goal: the partition state machine decides every verdict as ARCHITECTURE.md orders them (duplicate,
// invalid, too late, valid), keeps received = clicks + duplicates + invalid + too_late per row, and is
// deterministic (I5): commit points, evictions and a restart from a checkpoint never change a row.
// Method: seeded random click streams applied to aggregators backed by a dictionary "store" that
// receives each commit; final stores are compared field by field, including the sketches' bytes.
using Tollbooth.Core;

namespace Tollbooth.Core.Tests;

public sealed class PartitionAggregatorTests
{
    private static readonly long s_start = DateTimeOffset.Parse("2026-11-22T10:00:00Z").ToUnixTimeMilliseconds();

    private static readonly AggregatorOptions s_options = new()
    {
        WatermarkDelayMs = 10_000,
        AllowedLatenessMs = 10 * 60_000,
        DedupHorizonMs = 20 * 60_000,
        DedupIdsMax = 10_000_000,
    };

    private sealed class DictionaryStore : IWindowRowSource
    {
        public Dictionary<WindowKey, WindowRow> Rows { get; } = new();

        public List<WindowChange> Changes { get; } = new();

        public long NextChangeSequence { get; private set; }

        public WindowRow? Load(WindowKey key) => Rows.TryGetValue(key, out WindowRow? row) ? row.Clone() : null;

        public void Commit(PartitionAggregator aggregator)
        {
            foreach (WindowRow row in aggregator.TakeChangedRows())
            {
                Rows[row.Key] = row;
            }

            Changes.AddRange(aggregator.TakeChanges());
            NextChangeSequence = aggregator.NextChangeSequence;
        }

        public IReadOnlyList<WindowRow> FromMinute(long minute) => Rows.Values.Where(r => r.Key.Minute >= minute || r.Pending).Select(r => r.Clone()).ToList();

        public string CanonicalChanges() => string.Join('\n', Changes.Select(c =>
            $"{c.Sequence} {c.Row.Key} {c.Row.Status} r{c.Row.Revision} {c.Row.Received} {c.Row.Clicks} {c.Row.TooLate} {c.Row.LateClicks}"));

        public string Canonical() => string.Join('\n', Rows.Values
            .OrderBy(r => r.Key.Minute).ThenBy(r => r.Key.AdId, StringComparer.Ordinal).ThenBy(r => r.Key.UserAgentFree())
            .Select(r => $"{r.Key} {r.Status} r{r.Revision} {r.Pending} {r.Received} {r.Clicks} {r.SpendMicros} {r.DuplicateClicks} {r.InvalidBot} {r.TooLate} {r.LateClicks} {Convert.ToHexString(r.Users.Serialize())}"));
    }

    private static Click NewClick(string id, long timestampMs, string ad = "ad1", string userAgent = "Mozilla/5.0", string user = "u1", long cost = 100) => new()
    {
        ClickId = id,
        AdId = ad,
        AdvertiserId = "adv1",
        UserId = user,
        UserAgent = userAgent,
        TimestampMs = timestampMs,
        CostMicros = cost,
    };

    [Fact]
    public void Duplicate_click_is_counted_once()
    {
        var aggregator = new PartitionAggregator(0, s_options, new DictionaryStore());
        Assert.Equal(Verdict.Valid, aggregator.Apply(NewClick("c1", s_start), 0).Verdict);
        Assert.Equal(Verdict.Duplicate, aggregator.Apply(NewClick("c1", s_start), 1).Verdict);
        WindowRow row = Assert.Single(aggregator.TakeChangedRows());
        Assert.Equal((2L, 1L, 1L, 100L), (row.Received, row.Clicks, row.DuplicateClicks, row.SpendMicros));
    }

    [Fact]
    public void Known_bot_user_agent_is_invalid_with_reason_bot_and_not_billed()
    {
        var aggregator = new PartitionAggregator(0, s_options, new DictionaryStore());
        Assert.Equal((Verdict.Invalid, InvalidReason.Bot), aggregator.Apply(NewClick("b1", s_start, userAgent: "Mozilla/5.0 (compatible; bingbot/2.0)"), 0));
        WindowRow row = Assert.Single(aggregator.TakeChangedRows());
        Assert.Equal((1L, 0L, 1L, 0L), (row.Received, row.Clicks, row.InvalidBot, row.SpendMicros));
    }

    [Fact]
    public void Repeated_id_is_a_duplicate_even_from_a_bot()
    {
        var aggregator = new PartitionAggregator(0, s_options, new DictionaryStore());
        aggregator.Apply(NewClick("c1", s_start), 0);
        Assert.Equal(Verdict.Duplicate, aggregator.Apply(NewClick("c1", s_start, userAgent: "Googlebot"), 1).Verdict);
    }

    [Fact]
    public void Late_click_within_lateness_corrects_its_window_and_counts_as_late()
    {
        var aggregator = new PartitionAggregator(0, s_options, new DictionaryStore());
        aggregator.Apply(NewClick("now", s_start + (5 * 60_000)), 0);
        Assert.Equal(Verdict.Valid, aggregator.Apply(NewClick("late", s_start), 1).Verdict);
        WindowRow row = aggregator.TakeChangedRows().Single(r => r.Key.Minute == s_start / 60_000);
        Assert.Equal((1L, 1L), (row.Clicks, row.LateClicks));
    }

    [Fact]
    public void Click_beyond_the_allowed_lateness_is_too_late_and_not_counted()
    {
        var aggregator = new PartitionAggregator(0, s_options, new DictionaryStore());
        aggregator.Apply(NewClick("now", s_start + (30 * 60_000)), 0);
        Assert.Equal(Verdict.TooLate, aggregator.Apply(NewClick("old", s_start), 1).Verdict);
        WindowRow row = aggregator.TakeChangedRows().Single(r => r.Key.Minute == s_start / 60_000);
        Assert.Equal((1L, 0L, 1L), (row.Received, row.Clicks, row.TooLate));
    }

    [Fact]
    public void Id_is_forgotten_only_by_the_watermark_passing_the_dedup_horizon()
    {
        var aggregator = new PartitionAggregator(0, s_options with { AllowedLatenessMs = 60 * 60_000, DedupHorizonMs = 60 * 60_000 }, new DictionaryStore());
        aggregator.Apply(NewClick("c1", s_start), 0);
        aggregator.Apply(NewClick("later", s_start + (30 * 60_000)), 1);
        Assert.Equal(Verdict.Duplicate, aggregator.Apply(NewClick("c1", s_start + (30 * 60_000)), 2).Verdict);
        aggregator.Apply(NewClick("much-later", s_start + (90 * 60_000)), 3);
        Assert.Equal(Verdict.Valid, aggregator.Apply(NewClick("c1", s_start + (90 * 60_000)), 4).Verdict);
    }

    [Fact]
    public void Every_row_adds_up_and_commit_points_and_restarts_do_not_change_any_row()
    {
        int seed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED") is { } fixedSeed ? int.Parse(fixedSeed) : Random.Shared.Next();
        List<Click> clicks = RandomClicks(new Random(seed), 20_000);

        string straight = Run(clicks, new Random(seed + 1), commitEvery: 1_000_000, restartAt: -1);
        string smallCommits = Run(clicks, new Random(seed + 2), commitEvery: 7, restartAt: -1);
        string restarted = Run(clicks, new Random(seed + 3), commitEvery: 500, restartAt: 12_345);
        Assert.True(straight == smallCommits, $"seed {seed}: commit points changed the rows.");
        Assert.True(straight == restarted, $"seed {seed}: a restart from a checkpoint changed the rows.");
    }

    private static string Run(List<Click> clicks, Random random, int commitEvery, int restartAt)
    {
        var store = new DictionaryStore();
        var aggregator = new PartitionAggregator(0, s_options, store);
        for (int position = 0; position < clicks.Count; position++)
        {
            if (position == restartAt)
            {
                store.Commit(aggregator);
                aggregator = new PartitionAggregator(0, s_options, store);
                for (int before = 0; before < position; before++)
                {
                    aggregator.Remember(clicks[before], before);
                }

                aggregator.LoadResidentRows(store.FromMinute, store.NextChangeSequence);
            }

            aggregator.Apply(clicks[position], position);
            if (random.Next(commitEvery) == 0)
            {
                store.Commit(aggregator);
                aggregator.EvictSettledRows();
            }
        }

        store.Commit(aggregator);
        Assert.Equal(Enumerable.Range(0, store.Changes.Count).Select(i => (long)i), store.Changes.Select(c => c.Sequence));
        foreach (WindowRow row in store.Rows.Values)
        {
            Assert.Equal(row.Received, row.Clicks + row.DuplicateClicks + row.InvalidClicks + row.TooLate);
            Assert.True(row.LateClicks <= row.Clicks);
        }

        return store.Canonical() + "\n--- changes\n" + store.CanonicalChanges();
    }

    private static List<Click> RandomClicks(Random random, int count)
    {
        var clicks = new List<Click>(count);
        for (int i = 0; i < count; i++)
        {
            long timestamp = s_start + (i * 200L) + random.Next(-3 * 60_000, 60_000);
            if (random.Next(50) == 0)
            {
                timestamp -= 20 * 60_000;
            }

            string id = random.Next(10) == 0 && i > 0 ? $"c{random.Next(i)}" : $"c{i}";
            string agent = random.Next(30) == 0 ? "AhrefsBot/7.0" : "Mozilla/5.0";
            clicks.Add(NewClick(id, timestamp, $"ad{random.Next(5)}", agent, $"u{random.Next(300)}", random.Next(1000)));
        }

        return clicks;
    }
}

internal static class WindowKeyOrdering
{
    public static string UserAgentFree(this WindowKey key) => $"{key.AdvertiserId}|{key.CampaignId}|{key.PublisherId}|{key.Country}|{(int)key.Device}";
}

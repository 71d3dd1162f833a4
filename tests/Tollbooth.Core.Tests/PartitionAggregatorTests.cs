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
            .Select(r => $"{r.Key} {r.Status} r{r.Revision} {r.Pending} {r.Received} {r.Clicks} {r.SpendMicros} {r.DuplicateClicks} {r.InvalidBot} {r.InvalidBadToken} {r.InvalidRate} {r.InvalidUnsigned} {r.TooLate} {r.LateClicks} {Convert.ToHexString(r.Users.Serialize())} {r.RuleVersion}"));
    }

    private static Click NewClick(string id, long timestampMs, string ad = "ad1", string userAgent = "Mozilla/5.0", string user = "u1", long cost = 100, string ipHash = "") => new()
    {
        IpHash = ipHash,
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
        Assert.Equal(new ClickOutcome(Verdict.Invalid, InvalidReason.Bot, RuleVersion: RuleSet.VersionOf(s_options)), aggregator.Apply(NewClick("b1", s_start, userAgent: "Mozilla/5.0 (compatible; bingbot/2.0)"), 0));
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
    public void The_dedup_index_lets_go_of_ids_past_the_horizon_as_event_time_moves_on()
    {
        var store = new DictionaryStore();
        var aggregator = new PartitionAggregator(0, s_options with { AllowedLatenessMs = 10 * 60_000, DedupHorizonMs = 10 * 60_000 }, store);
        long position = 0;
        for (int minute = 0; minute < 200; minute++)
        {
            for (int i = 0; i < 10; i++)
            {
                aggregator.Apply(NewClick($"m{minute}-{i}", s_start + (minute * 60_000L)), position++);
            }

            store.Commit(aggregator);
            aggregator.EvictSettledRows();
        }

        // 2,000 ids seen; a 10-minute horizon and a compaction at least every hour of event time keep at most ~80 minutes of them.
        Assert.True(aggregator.DedupCompactions >= 2, $"{aggregator.DedupCompactions} compactions");
        Assert.True(aggregator.Dedup.Count <= 80 * 10, $"{aggregator.Dedup.Count} ids remembered");
        Assert.Equal(Verdict.Duplicate, aggregator.Apply(NewClick("m199-3", s_start + (199 * 60_000L)), position).Verdict);
    }

    [Fact]
    public void Every_row_adds_up_and_commit_points_and_restarts_do_not_change_any_row()
    {
        int seed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED") is { } fixedSeed ? int.Parse(fixedSeed) : Random.Shared.Next();
        // 60,000 clicks span 200 minutes of event time: the dedup index is compacted several times on the way.
        List<Click> clicks = RandomClicks(new Random(seed), 60_000);

        string straight = Run(clicks, new Random(seed + 1), commitEvery: 1_000_000, restartAt: -1);
        string smallCommits = Run(clicks, new Random(seed + 2), commitEvery: 7, restartAt: -1);
        string restarted = Run(clicks, new Random(seed + 3), commitEvery: 500, restartAt: 42_345);
        string fromSnapshot = Run(clicks, new Random(seed + 4), commitEvery: 300, restartAt: 45_000, snapshotAt: 39_000);
        Assert.True(straight == smallCommits, $"seed {seed}: commit points changed the rows.");
        Assert.True(straight == restarted, $"seed {seed}: a restart from a checkpoint changed the rows.");
        Assert.True(straight == fromSnapshot, $"seed {seed}: a restart from a dedup and rate snapshot changed the rows.");
        foreach (string reason in new[] { "rate", "bad_token", "unsigned", "bot" })
        {
            Assert.True(System.Text.RegularExpressions.Regex.IsMatch(straight, $"verdicts .*Invalid {reason}=[1-9]"), $"seed {seed}: no click was invalid for {reason}: {straight[straight.IndexOf("verdicts", StringComparison.Ordinal)..]}");
        }
    }

    [Fact]
    public void Clicks_over_the_user_rate_limit_in_one_minute_are_invalid_with_reason_rate()
    {
        var aggregator = new PartitionAggregator(0, s_options with { UserClicksPerAdPerMinuteMax = 3, IpClicksPerAdPerMinuteMax = 0 }, new DictionaryStore());
        var verdicts = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            verdicts.Add(Describe(aggregator.Apply(NewClick($"r{i}", s_start + i), i)));
        }

        verdicts.Add(Describe(aggregator.Apply(NewClick("other-ad", s_start + 10, ad: "ad2"), 5)));
        verdicts.Add(Describe(aggregator.Apply(NewClick("other-user", s_start + 11, user: "u2"), 6)));
        verdicts.Add(Describe(aggregator.Apply(NewClick("next-minute", s_start + 60_000), 7)));
        Assert.Equal(["Valid", "Valid", "Valid", "Invalid rate", "Invalid rate", "Valid", "Valid", "Valid"], verdicts);
        WindowRow row = aggregator.TakeChangedRows().Single(r => r.Key.AdId == "ad1" && r.Key.Minute == s_start / 60_000);
        Assert.Equal((6, 4, 2), (row.Received, row.Clicks, row.InvalidRate));
        Assert.Equal(row.Received, row.Clicks + row.DuplicateClicks + row.InvalidClicks + row.TooLate);
    }

    [Fact]
    public void Clicks_over_the_ip_rate_limit_are_invalid_and_a_limit_of_zero_turns_the_check_off()
    {
        Click FromIp(string id, string user) => new() { ClickId = id, AdId = "ad1", AdvertiserId = "adv1", UserId = user, IpHash = "ip-hash-1", TimestampMs = s_start };
        var limited = new PartitionAggregator(0, s_options with { UserClicksPerAdPerMinuteMax = 0, IpClicksPerAdPerMinuteMax = 2 }, new DictionaryStore());
        var unlimited = new PartitionAggregator(0, s_options with { UserClicksPerAdPerMinuteMax = 0, IpClicksPerAdPerMinuteMax = 0 }, new DictionaryStore());
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(i < 2 ? Verdict.Valid : Verdict.Invalid, limited.Apply(FromIp($"ip{i}", $"user{i}"), i).Verdict);
            Assert.Equal(Verdict.Valid, unlimited.Apply(FromIp($"ip{i}", $"user{i}"), i).Verdict);
        }
    }

    [Fact]
    public void Signing_verdicts_follow_the_contract_order()
    {
        var aggregator = new PartitionAggregator(0, s_options, new DictionaryStore());
        Click Signed(string id, ClickSignature signature, bool required, string agent = "Mozilla/5.0") =>
            new() { ClickId = id, AdId = "ad1", AdvertiserId = "adv1", UserAgent = agent, TimestampMs = s_start, Signature = signature, SignedRequired = required };

        Assert.Equal("Invalid bad_token", Describe(aggregator.Apply(Signed("a", ClickSignature.Bad, false), 0)));
        Assert.Equal("Invalid bad_token", Describe(aggregator.Apply(Signed("b", ClickSignature.Bad, false, "Googlebot/2.1"), 1)));
        Assert.Equal("Invalid bot", Describe(aggregator.Apply(Signed("c", ClickSignature.Unsigned, true, "Googlebot/2.1"), 2)));
        Assert.Equal("Invalid unsigned", Describe(aggregator.Apply(Signed("d", ClickSignature.Unsigned, true), 3)));
        Assert.Equal("Valid", Describe(aggregator.Apply(Signed("e", ClickSignature.Verified, true), 4)));
        Assert.Equal("Valid", Describe(aggregator.Apply(Signed("f", ClickSignature.Unsigned, false), 5)));
        Assert.Equal("Duplicate", Describe(aggregator.Apply(Signed("a", ClickSignature.Verified, false), 6)));
    }

    [Fact]
    public void Rate_counters_read_back_from_a_snapshot_decide_the_same()
    {
        var counters = new RateCounters();
        for (int i = 0; i < 1000; i++)
        {
            counters.Increment(i % 7, RateCounters.KeyOf((byte)(1 + (i % 2)), "ad" + (i % 13), "u" + (i % 17)));
        }

        using var stream = new MemoryStream();
        counters.Write(stream);
        stream.Position = 0;
        RateCounters read = RateCounters.Read(stream);
        Assert.Equal(counters.Count, read.Count);
        Assert.Equal(counters.Increment(3, RateCounters.KeyOf(1, "ad3", "u3")), read.Increment(3, RateCounters.KeyOf(1, "ad3", "u3")));

        byte[] damaged = stream.ToArray();
        damaged[damaged.Length / 2] ^= 0x10;
        Assert.Throws<InvalidDataException>(() => RateCounters.Read(new MemoryStream(damaged)));
    }

    private static string Describe(ClickOutcome outcome) =>
        outcome.Reason == InvalidReason.None ? outcome.Verdict.ToString() : $"{outcome.Verdict} {InvalidReasonNames.ToWire(outcome.Reason)}";

    [Fact]
    public void Counting_archived_verdicts_again_gives_the_rows_and_changes_deciding_them_gave_even_for_erased_users()
    {
        int seed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED") is { } fixedSeed ? int.Parse(fixedSeed) : Random.Shared.Next();
        var random = new Random(seed);
        List<Click> clicks = RandomClicks(random, 20_000);
        var decided = new DictionaryStore();
        var deciding = new PartitionAggregator(0, s_options, decided);
        var outcomes = new List<ClickOutcome>(clicks.Count);
        for (int position = 0; position < clicks.Count; position++)
        {
            outcomes.Add(deciding.Apply(clicks[position], position));
            if (random.Next(1_000) == 0)
            {
                decided.Commit(deciding);
                deciding.EvictSettledRows();
            }
        }

        decided.Commit(deciding);

        // The replay knows no click id, and an erased user only by the hash that stands in for them.
        var replayed = new DictionaryStore();
        var counting = new PartitionAggregator(0, s_options, replayed);
        for (int position = 0; position < clicks.Count; position++)
        {
            Click click = clicks[position];
            bool erased = click.UserId.StartsWith("busy", StringComparison.Ordinal);
            Click archived = NewClick("", click.TimestampMs, click.AdId, click.UserAgent, erased ? "" : click.UserId, click.CostMicros, click.IpHash);
            archived.Signature = click.Signature;
            archived.SignedRequired = click.SignedRequired;
            counting.ApplyDecided(archived, outcomes[position], erased ? HyperLogLog.HashUserId(click.UserId) : null);
            if (random.Next(7) == 0)
            {
                replayed.Commit(counting);
                counting.EvictSettledRows();
            }
        }

        replayed.Commit(counting);
        Assert.True(decided.Canonical() == replayed.Canonical(), $"seed {seed}: the rows counted from the verdicts differ from the rows that decided them.");
        Assert.True(decided.CanonicalChanges() == replayed.CanonicalChanges(), $"seed {seed}: the window changes differ.");
        Assert.Equal(decided.NextChangeSequence, replayed.NextChangeSequence);
        Assert.Equal(deciding.MaxEventTimeMs, counting.MaxEventTimeMs);
    }

    private static string Run(List<Click> clicks, Random random, int commitEvery, int restartAt, int snapshotAt = -1)
    {
        var store = new DictionaryStore();
        var aggregator = new PartitionAggregator(0, s_options, store);
        (byte[] Dedup, byte[] Rates, long MaxEventTimeMs)? snapshot = null;
        var verdicts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int position = 0; position < clicks.Count; position++)
        {
            if (position == snapshotAt)
            {
                store.Commit(aggregator);
                using var dedup = new MemoryStream();
                using var rates = new MemoryStream();
                aggregator.Dedup.WriteSnapshot(dedup);
                aggregator.Rates.Write(rates);
                snapshot = (dedup.ToArray(), rates.ToArray(), aggregator.MaxEventTimeMs);
            }

            if (position == restartAt)
            {
                store.Commit(aggregator);
                int from = 0;
                if (snapshot is { } s)
                {
                    aggregator = new PartitionAggregator(
                        0, s_options, store, DedupIndex.ReadSnapshot(new MemoryStream(s.Dedup), s_options.DedupIdsMax), s.MaxEventTimeMs, RateCounters.Read(new MemoryStream(s.Rates)));
                    from = snapshotAt;
                }
                else
                {
                    aggregator = new PartitionAggregator(0, s_options, store);
                }

                for (int before = from; before < position; before++)
                {
                    aggregator.Remember(clicks[before], before);
                }

                aggregator.LoadResidentRows(store.FromMinute, store.NextChangeSequence);
            }

            string verdict = Describe(aggregator.Apply(clicks[position], position));
            verdicts[verdict] = verdicts.GetValueOrDefault(verdict) + 1;
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

        return store.Canonical() + "\n--- changes\n" + store.CanonicalChanges() + "\n--- verdicts " + string.Join(' ', verdicts.Select(v => $"{v.Key}={v.Value}"));
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
            // A few busy users and addresses cross the rate limits; some tokens fail; some advertisers require signing.
            string user = random.Next(2) == 0 ? $"busy{random.Next(2)}" : $"u{random.Next(300)}";
            Click click = NewClick(id, timestamp, $"ad{random.Next(5)}", agent, user, random.Next(1000), $"ip{random.Next(40)}");
            click.Signature = (ClickSignature)random.Next(3);
            click.SignedRequired = random.Next(10) == 0;
            clicks.Add(click);
        }

        return clicks;
    }
}

internal static class WindowKeyOrdering
{
    public static string UserAgentFree(this WindowKey key) => $"{key.AdvertiserId}|{key.CampaignId}|{key.PublisherId}|{key.Country}|{(int)key.Device}";
}

// Goal: the billing contract of a window (open → closed → final → amended, a revision per published
// change) follows the partition watermark alone, and every change reaches the changes feed once.
using Tollbooth.Core;

namespace Tollbooth.Core.Tests;

public sealed class WindowStatusTests
{
    private const long Minute = 60_000;
    private static readonly long s_start = DateTimeOffset.Parse("2026-11-22T10:00:00Z").ToUnixTimeMilliseconds();

    private static readonly AggregatorOptions s_options = new()
    {
        WatermarkDelayMs = 10_000,
        AllowedLatenessMs = 5 * Minute,
        DedupHorizonMs = 20 * Minute,
    };

    private sealed class NoRows : IWindowRowSource
    {
        public WindowRow? Load(WindowKey key) => null;
    }

    private int _position;

    private static Click NewClick(string id, long timestampMs, string ad = "ad1") => new()
    {
        ClickId = id,
        AdId = ad,
        AdvertiserId = "adv1",
        UserId = "u1",
        UserAgent = "Mozilla/5.0",
        TimestampMs = timestampMs,
        CostMicros = 100,
    };

    private void Apply(PartitionAggregator aggregator, string id, long timestampMs, string ad = "ad1") =>
        aggregator.Apply(NewClick(id, timestampMs, ad), _position++);

    private static List<WindowChange> ChangesOf(PartitionAggregator aggregator, string ad, long minuteStartMs) =>
        aggregator.TakeChanges().Where(c => c.Row.Key.AdId == ad && c.Row.Key.Minute == minuteStartMs / Minute).ToList();

    [Fact]
    public void Window_is_open_until_the_watermark_passes_its_end_then_closed_with_revision_1()
    {
        var aggregator = new PartitionAggregator(0, s_options, new NoRows());
        Apply(aggregator, "a", s_start + 1_000);
        Apply(aggregator, "b", s_start + Minute + 5_000);
        Assert.Empty(aggregator.TakeChanges());

        Apply(aggregator, "c", s_start + Minute + 10_000);
        WindowChange change = Assert.Single(ChangesOf(aggregator, "ad1", s_start));
        Assert.Equal(WindowStatus.Closed, change.Row.Status);
        Assert.Equal(1, change.Row.Revision);
        Assert.Equal(1, change.Row.Clicks);
    }

    [Fact]
    public void Late_click_publishes_a_correction_with_the_next_revision()
    {
        var aggregator = new PartitionAggregator(0, s_options, new NoRows());
        Apply(aggregator, "a", s_start + 1_000);
        Apply(aggregator, "b", s_start + Minute + 10_000);
        aggregator.TakeChanges();

        Apply(aggregator, "late", s_start + 2_000);
        Assert.Empty(ChangesOf(aggregator, "ad1", s_start));
        Apply(aggregator, "tick", s_start + (2 * Minute) + 10_000);

        WindowChange correction = Assert.Single(ChangesOf(aggregator, "ad1", s_start));
        Assert.Equal(WindowStatus.Closed, correction.Row.Status);
        Assert.Equal(2, correction.Row.Revision);
        Assert.Equal(2, correction.Row.Clicks);
        Assert.Equal(1, correction.Row.LateClicks);
    }

    [Fact]
    public void Window_becomes_final_once_the_allowed_lateness_has_passed()
    {
        var aggregator = new PartitionAggregator(0, s_options, new NoRows());
        Apply(aggregator, "a", s_start + 1_000);
        Apply(aggregator, "b", s_start + Minute + 10_000);
        aggregator.TakeChanges();

        Apply(aggregator, "c", s_start + (6 * Minute) + 9_999);
        Assert.Empty(ChangesOf(aggregator, "ad1", s_start));
        Apply(aggregator, "d", s_start + (6 * Minute) + 10_000);

        WindowChange final = Assert.Single(ChangesOf(aggregator, "ad1", s_start));
        Assert.Equal(WindowStatus.Final, final.Row.Status);
        Assert.Equal(2, final.Row.Revision);
    }

    [Fact]
    public void Click_after_final_is_too_late_and_makes_the_window_amended_with_a_new_revision()
    {
        var aggregator = new PartitionAggregator(0, s_options, new NoRows());
        Apply(aggregator, "a", s_start + 1_000);
        Apply(aggregator, "b", s_start + (6 * Minute) + 10_000);
        aggregator.TakeChanges();

        Verdict verdict = aggregator.Apply(NewClick("too-late", s_start + 3_000), _position++).Verdict;
        Assert.Equal(Verdict.TooLate, verdict);
        Apply(aggregator, "tick", s_start + (7 * Minute) + 10_000);

        WindowChange amended = Assert.Single(ChangesOf(aggregator, "ad1", s_start));
        Assert.Equal(WindowStatus.Amended, amended.Row.Status);
        Assert.Equal(2, amended.Row.Revision);
        Assert.Equal(1, amended.Row.Clicks);
        Assert.Equal(1, amended.Row.TooLate);
        Assert.Equal(amended.Row.Received, amended.Row.Clicks + amended.Row.DuplicateClicks + amended.Row.InvalidClicks + amended.Row.TooLate);
    }

    [Fact]
    public void A_watermark_jump_past_the_lateness_publishes_one_final_change_per_window_in_key_order()
    {
        var aggregator = new PartitionAggregator(0, s_options, new NoRows());
        Apply(aggregator, "a", s_start + 1_000, "ad2");
        Apply(aggregator, "b", s_start + 2_000, "ad1");
        Apply(aggregator, "c", s_start + Minute, "ad1");
        Apply(aggregator, "far", s_start + (60 * Minute), "ad3");

        List<WindowChange> changes = aggregator.TakeChanges();
        Assert.Equal(["ad1@0", "ad2@0", "ad1@1"], changes.Select(c => $"{c.Row.Key.AdId}@{c.Row.Key.Minute - (s_start / Minute)}"));
        Assert.All(changes, c => Assert.Equal(WindowStatus.Final, c.Row.Status));
        Assert.All(changes, c => Assert.Equal(1, c.Row.Revision));
        Assert.Equal([0L, 1L, 2L], changes.Select(c => c.Sequence));
    }
}

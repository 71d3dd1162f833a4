// Goal: the rule set in force has a version that names what it decides (the same rules give the same
// version everywhere, any change that can change a verdict gives another), and every window row records
// the version that decided its clicks; a restart under other rules records the new one on the windows
// it changes and leaves the others as they were.
// Method: versions of option sets compared directly; a row's version read after clicks applied before and
// after a restart under stricter rules.
using Tollbooth.Core;

namespace Tollbooth.Core.Tests;

public sealed class RuleVersionTests
{
    private static readonly AggregatorOptions s_rules = new() { WatermarkDelayMs = 0, AllowedLatenessMs = 60 * 60_000, DedupHorizonMs = 60 * 60_000 };

    [Fact]
    public void The_same_rules_give_the_same_version_and_any_change_that_can_change_a_verdict_another()
    {
        string version = RuleSet.VersionOf(s_rules);
        Assert.Matches("^[0-9a-f]{16}$", version);
        Assert.Equal(version, new RuleSet(s_rules with { }).Version);

        // Not rules: the version stays when only timing settings change.
        Assert.Equal(version, RuleSet.VersionOf(s_rules with { WatermarkDelayMs = 5, DedupIdsMax = 7 }));

        // Patterns in another order, case or repeated decide alike: one version.
        string[] reordered = s_rules.BotUserAgentPatterns.Reverse().Select(p => p.ToUpperInvariant()).Append("BOT").ToArray();
        Assert.Equal(version, RuleSet.VersionOf(s_rules with { BotUserAgentPatterns = reordered }));

        string[] others =
        [
            RuleSet.VersionOf(s_rules with { UserClicksPerAdPerMinuteMax = s_rules.UserClicksPerAdPerMinuteMax + 1 }),
            RuleSet.VersionOf(s_rules with { IpClicksPerAdPerMinuteMax = 0 }),
            RuleSet.VersionOf(s_rules with { BotUserAgentPatterns = [.. s_rules.BotUserAgentPatterns, "newbot"] }),
            RuleSet.VersionOf(s_rules with { BotUserAgentPatterns = s_rules.BotUserAgentPatterns.Skip(1).ToArray() }),
            RuleSet.VersionOf(s_rules with { BotUserAgentPatterns = ["a\nbot b"] }),
            RuleSet.VersionOf(s_rules with { BotUserAgentPatterns = ["a", "b"] }),
        ];
        Assert.DoesNotContain(version, others);
        Assert.Equal(others.Length, others.Distinct().Count());
    }

    [Fact]
    public void A_window_records_the_version_of_the_rules_that_decided_its_last_click()
    {
        long minute = DateTimeOffset.Parse("2026-11-22T10:00:00Z").ToUnixTimeMilliseconds();
        Click Click(string id, long timestampMs) => new()
        {
            ClickId = id, AdId = "ad1", AdvertiserId = "adv1", CampaignId = "", PublisherId = "", Country = "US",
            UserId = "u1", UserAgent = "Mozilla/5.0", TimestampMs = timestampMs, CostMicros = 1,
        };

        var rows = new Dictionary<WindowKey, WindowRow>();
        var first = new PartitionAggregator(0, s_rules, new Rows(rows));
        first.Apply(Click("a", minute), 0);
        first.Apply(Click("b", minute + 60_000), 1);
        foreach (WindowRow row in first.TakeChangedRows())
        {
            rows[row.Key] = row;
        }

        Assert.All(rows.Values, row => Assert.Equal(RuleSet.VersionOf(s_rules), row.RuleVersion));

        // Restarted under a stricter rate limit: a late click into the first minute is decided by the new rules.
        AggregatorOptions stricter = s_rules with { UserClicksPerAdPerMinuteMax = 1 };
        var second = new PartitionAggregator(0, stricter, new Rows(rows));
        second.Remember(Click("a", minute), 0);
        second.Remember(Click("b", minute + 60_000), 1);
        second.LoadResidentRows(from => rows.Values.Where(r => r.Key.Minute >= from).Select(r => r.Clone()).ToList());
        ClickOutcome late = second.Apply(Click("c", minute + 1), 2);
        Assert.Equal((Verdict.Invalid, InvalidReason.Rate, RuleSet.VersionOf(stricter)), (late.Verdict, late.Reason, late.RuleVersion));
        foreach (WindowRow row in second.TakeChangedRows())
        {
            rows[row.Key] = row;
        }

        Assert.Equal(
            [RuleSet.VersionOf(stricter), RuleSet.VersionOf(s_rules)],
            rows.Values.OrderBy(r => r.Key.Minute).Select(r => r.RuleVersion));
    }

    private sealed class Rows(Dictionary<WindowKey, WindowRow> rows) : IWindowRowSource
    {
        public WindowRow? Load(WindowKey key) => rows.TryGetValue(key, out WindowRow? row) ? row.Clone() : null;
    }
}

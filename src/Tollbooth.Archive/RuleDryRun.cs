using Tollbooth.Core;

namespace Tollbooth.Archive;

/// <summary>What a proposed rule set would change for one advertiser's archived clicks.</summary>
public sealed record AdvertiserImpact(
    string AdvertiserId, long Clicks, long ChangingVerdict, long ValidNow, long ValidProposed, long SpendNowMicros, long SpendProposedMicros);

/// <summary>
/// Runs a proposed rule set over the archived clicks of a range, each partition in log order, with the
/// processors' own rule code (<see cref="RuleSet"/>), and compares every verdict with the archived one.
/// Duplicates stay duplicates and a too-late click stays too late unless a rule makes it invalid (the
/// verdict order). Rate counters start empty at the range's first minute, so a range should start on a
/// whole minute. Nothing is changed.
/// </summary>
public static class RuleDryRun
{
    public static (long ClicksRead, IReadOnlyList<AdvertiserImpact> Advertisers) Run(string root, AggregatorOptions proposed, long fromMinute, long toMinute)
    {
        var rules = new RuleSet(proposed);
        var totals = new Dictionary<string, long[]>(StringComparer.Ordinal);
        long read = 0;
        foreach (IGrouping<int, ArchiveRecord> partition in ArchiveScan.Records(root, fromMinute, toMinute).GroupBy(r => r.Partition))
        {
            var rates = new RateCounters();
            foreach (ArchiveRecord record in partition.OrderBy(r => r.Position))
            {
                read++;
                ClickOutcome now = record.Outcome;
                ClickOutcome then = now;
                if (now.Verdict != Verdict.Duplicate)
                {
                    bool tooLate = now.Verdict == Verdict.TooLate;
                    long minute = WindowKey.For(record.Click).Minute;
                    InvalidReason reason = rules.Check(record.Click, minute, tooLate, rates);
                    then = reason != InvalidReason.None ? new ClickOutcome(Verdict.Invalid, reason)
                        : tooLate ? new ClickOutcome(Verdict.TooLate, InvalidReason.None)
                        : new ClickOutcome(Verdict.Valid, InvalidReason.None);
                }

                if (!totals.TryGetValue(record.Click.AdvertiserId, out long[]? t))
                {
                    t = new long[6];
                    totals.Add(record.Click.AdvertiserId, t);
                }

                t[0]++;
                t[1] += now.ToWire() == then.ToWire() ? 0 : 1;
                t[2] += now.Verdict == Verdict.Valid ? 1 : 0;
                t[3] += then.Verdict == Verdict.Valid ? 1 : 0;
                t[4] += now.Verdict == Verdict.Valid ? record.Click.CostMicros : 0;
                t[5] += then.Verdict == Verdict.Valid ? record.Click.CostMicros : 0;
            }
        }

        return (read, totals.OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => new AdvertiserImpact(t.Key, t.Value[0], t.Value[1], t.Value[2], t.Value[3], t.Value[4], t.Value[5]))
            .ToList());
    }
}

using Tollbooth.Core;

namespace Tollbooth.Archive;

/// <summary>One window whose stored numbers are not what the archive gives.</summary>
/// <param name="Field">The field that differs; <c>window</c> when one side has no such window at all.</param>
public sealed record WindowDifference(int Partition, WindowKey Key, string Field, string Stored, string Recomputed);

/// <summary>
/// One window compared: <c>matched</c>, <c>differs</c> or <c>missing</c>, and how many of its archived clicks
/// were too late (not counted, kept in the archive; 0 when the archive has no such window).
/// </summary>
public sealed record WindowResult(int Partition, WindowKey Key, string Result, long TooLate);

/// <summary>What a reconciliation found over a range of minutes.</summary>
public sealed class ReconcileReport
{
    public long WindowsCompared => Windows.Count;

    public long WindowsMatched => Windows.Count(w => w.Result == "matched");

    public long ClicksRead { get; set; }

    public long TooLate { get; set; }

    public List<WindowDifference> Differences { get; } = new();

    /// <summary>Every window compared, in order, with its result.</summary>
    public List<WindowResult> Windows { get; } = new();

    /// <summary>Windows with at least one difference (<c>differs</c> or <c>missing</c>).</summary>
    public long WindowsDiffering => WindowsCompared - WindowsMatched;
}

/// <summary>
/// Recomputes every window of a range of minutes from the raw archive, counting each archived click with
/// its verdict through <see cref="WindowRow.Count"/> (the processors' own code), and compares the result,
/// field by field, with the stored rows (I6): the numbers, the unique-user sketch and the rule set version
/// (the archived version of the window's last click in log order).
/// </summary>
public static class Reconciler
{
    /// <param name="stored">The stored rows of the range (any others are ignored).</param>
    /// <param name="progress">Called with (files read, files in all) as the archive is read.</param>
    /// <param name="include">Only windows it accepts are compared (a scope: one ad, campaign or advertiser); null for all.</param>
    public static ReconcileReport Run(
        string archiveRoot,
        IEnumerable<(int Partition, WindowRow Row)> stored,
        long fromMinute,
        long toMinute,
        Action<int, int>? progress = null,
        Func<WindowKey, bool>? include = null)
    {
        var report = new ReconcileReport();
        var usersUnknown = new HashSet<(int, WindowKey)>();
        Dictionary<(int, WindowKey), WindowRow> recomputed = Recompute(archiveRoot, fromMinute, toMinute, report, progress, include, usersUnknown);
        var storedRows = new Dictionary<(int, WindowKey), WindowRow>();
        foreach ((int partition, WindowRow row) in stored)
        {
            if (row.Key.Minute >= fromMinute && row.Key.Minute < toMinute && (include is null || include(row.Key)))
            {
                storedRows[(partition, row.Key)] = row;
            }
        }

        foreach ((int Partition, WindowKey Key) window in storedRows.Keys.Union(recomputed.Keys).OrderBy(k => k.Item2.Minute).ThenBy(k => k.Item1).ThenBy(k => k.Item2, WindowKeyComparer.Instance))
        {
            storedRows.TryGetValue(window, out WindowRow? mine);
            recomputed.TryGetValue(window, out WindowRow? theirs);
            int before = report.Differences.Count;
            if (mine is null || theirs is null)
            {
                report.Differences.Add(new WindowDifference(window.Partition, window.Key, "window", mine is null ? "missing" : "present", theirs is null ? "missing" : "present"));
                report.Windows.Add(new WindowResult(window.Partition, window.Key, "missing", theirs?.TooLate ?? 0));
                continue;
            }

            Compare(report, window, "received", mine.Received, theirs.Received);
            Compare(report, window, "clicks", mine.Clicks, theirs.Clicks);
            Compare(report, window, "spend_micros", mine.SpendMicros, theirs.SpendMicros);
            Compare(report, window, "duplicate_clicks", mine.DuplicateClicks, theirs.DuplicateClicks);
            Compare(report, window, "invalid_bad_token", mine.InvalidBadToken, theirs.InvalidBadToken);
            Compare(report, window, "invalid_bot", mine.InvalidBot, theirs.InvalidBot);
            Compare(report, window, "invalid_rate", mine.InvalidRate, theirs.InvalidRate);
            Compare(report, window, "invalid_unsigned", mine.InvalidUnsigned, theirs.InvalidUnsigned);
            Compare(report, window, "too_late", mine.TooLate, theirs.TooLate);
            Compare(report, window, "late_clicks", mine.LateClicks, theirs.LateClicks);
            // A click erased before erasures kept its user's sketch hash: the archive cannot count that window's users.
            if (!usersUnknown.Contains(window) && !mine.Users.Serialize().AsSpan().SequenceEqual(theirs.Users.Serialize()))
            {
                report.Differences.Add(new WindowDifference(window.Partition, window.Key, "unique_users", mine.Users.Estimate().ToString(), theirs.Users.Estimate().ToString()));
            }

            // The rules that decided the window's last click: a row rebuilt under other rules than the archived verdicts' differs here.
            if (mine.RuleVersion != theirs.RuleVersion)
            {
                report.Differences.Add(new WindowDifference(window.Partition, window.Key, "rule_version", mine.RuleVersion, theirs.RuleVersion));
            }

            report.Windows.Add(new WindowResult(window.Partition, window.Key, report.Differences.Count == before ? "matched" : "differs", theirs.TooLate));
        }

        return report;
    }

    private static void Compare(ReconcileReport report, (int Partition, WindowKey Key) window, string field, long stored, long recomputed)
    {
        if (stored != recomputed)
        {
            report.Differences.Add(new WindowDifference(window.Partition, window.Key, field, stored.ToString(), recomputed.ToString()));
        }
    }

    private static Dictionary<(int, WindowKey), WindowRow> Recompute(
        string root, long fromMinute, long toMinute, ReconcileReport report, Action<int, int>? progress, Func<WindowKey, bool>? include,
        HashSet<(int, WindowKey)> usersUnknown)
    {
        var rows = new Dictionary<(int, WindowKey), WindowRow>();
        // A row records the rule version of its last click in log order, whatever order the files are read in.
        var last = new Dictionary<(int, WindowKey), (long Position, string RuleVersion)>();
        foreach (ArchiveRecord record in ArchiveScan.Records(root, fromMinute, toMinute, progress))
        {
            var key = WindowKey.For(record.Click);
            if (include is not null && !include(key))
            {
                continue;
            }

            report.ClicksRead++;
            if (record.Outcome.Verdict == Verdict.TooLate)
            {
                report.TooLate++;
            }

            if (!rows.TryGetValue((record.Partition, key), out WindowRow? row))
            {
                row = new WindowRow(key);
                rows.Add((record.Partition, key), row);
            }

            record.CountInto(row);
            if (!last.TryGetValue((record.Partition, key), out (long Position, string RuleVersion) latest) || record.Position > latest.Position)
            {
                last[(record.Partition, key)] = (record.Position, record.Outcome.RuleVersion);
            }

            if (record.UserUnknown)
            {
                usersUnknown.Add((record.Partition, key));
            }
        }

        foreach (KeyValuePair<(int, WindowKey), WindowRow> row in rows)
        {
            row.Value.RuleVersion = last[row.Key].RuleVersion;
        }

        return rows;
    }
}

using Tollbooth.Core;

namespace Tollbooth.Archive;

/// <summary>One window whose stored numbers are not what the archive gives.</summary>
/// <param name="Field">The field that differs; <c>window</c> when one side has no such window at all.</param>
public sealed record WindowDifference(int Partition, WindowKey Key, string Field, string Stored, string Recomputed);

/// <summary>What a reconciliation found over a range of minutes.</summary>
public sealed class ReconcileReport
{
    public long WindowsCompared => Windows.Count;

    public long WindowsMatched => Windows.Count(w => w.Result == "matched");

    public long ClicksRead { get; set; }

    public long TooLate { get; set; }

    public List<WindowDifference> Differences { get; } = new();

    /// <summary>Every window compared, in order, with its result: <c>matched</c>, <c>differs</c> or <c>missing</c>.</summary>
    public List<(int Partition, WindowKey Key, string Result)> Windows { get; } = new();

    /// <summary>Windows with at least one difference (<c>differs</c> or <c>missing</c>).</summary>
    public long WindowsDiffering => WindowsCompared - WindowsMatched;
}

/// <summary>
/// Recomputes every window of a range of minutes from the raw archive, counting each archived click with
/// its verdict through <see cref="WindowRow.Count"/> (the processors' own code), and compares the result,
/// field by field, with the stored rows (I6).
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
        var erasedWindows = new HashSet<(int, WindowKey)>();
        Dictionary<(int, WindowKey), WindowRow> recomputed = Recompute(archiveRoot, fromMinute, toMinute, report, progress, include, erasedWindows);
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
                report.Windows.Add((window.Partition, window.Key, "missing"));
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
            // An erased user's clicks keep no user id: the archive can no longer count that window's users.
            if (!erasedWindows.Contains(window) && !mine.Users.Serialize().AsSpan().SequenceEqual(theirs.Users.Serialize()))
            {
                report.Differences.Add(new WindowDifference(window.Partition, window.Key, "unique_users", mine.Users.Estimate().ToString(), theirs.Users.Estimate().ToString()));
            }

            report.Windows.Add((window.Partition, window.Key, report.Differences.Count == before ? "matched" : "differs"));
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
        HashSet<(int, WindowKey)> erasedWindows)
    {
        var rows = new Dictionary<(int, WindowKey), WindowRow>();
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

            row.Count(record.Click, record.Outcome);
            if (record.Erased)
            {
                erasedWindows.Add((record.Partition, key));
            }
        }

        return rows;
    }
}

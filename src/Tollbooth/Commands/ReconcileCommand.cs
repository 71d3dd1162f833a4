using Tollbooth.Archive;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth reconcile --data DIR [--from T] [--to T]</c>: brings the store and the archive up to the
/// log (as a start would), recomputes every window in range from the raw archive with the processors' own
/// counting code, and prints every difference (window, field, stored, recomputed), each window with
/// too-late clicks (window, how many) and a summary. Exit 0 when everything matches, 1 when anything differs.
/// </summary>
public static class ReconcileCommand
{
    public static int Run(TollboothSettings settings, string? from, string? to)
    {
        // Wide enough for any event time, narrow enough that minutes * 60,000 cannot overflow.
        long fromMinute = long.MinValue / 120_000, toMinute = long.MaxValue / 120_000;
        if (from is not null)
        {
            if (!TimeText.TryParse(from, out long fromMs))
            {
                throw new SettingsException("--from must be a time such as 2026-11-23T10:00:00Z.");
            }

            fromMinute = TimeText.FloorToMinuteMs(fromMs) / 60_000;
        }

        if (to is not null)
        {
            if (!TimeText.TryParse(to, out long toMs))
            {
                throw new SettingsException("--to must be a time such as 2026-11-23T11:00:00Z.");
            }

            toMinute = TimeText.FloorToMinuteMs(toMs) / 60_000;
        }

        using DataDirectory data = DataDirectory.OpenExisting(settings, "reconcile", Warn);
        // As a start would: commit what the log holds beyond the store, archive what the archive lacks.
        if (OfflinePipeline.Run(settings, data, Warn).Failure is { } failure)
        {
            throw new InvalidOperationException($"bringing the store up to the log failed: {failure.Message}");
        }

        ProgressDisplay progress = ProgressDisplay.ForConsole(TimeSpan.FromSeconds(1));
        int files = 0;
        ReconcileReport report = Reconciler.Run(data.ArchiveDirectory, data.Store.ReadRowsBetween(fromMinute, toMinute), fromMinute, toMinute, (done, all) =>
        {
            files = all;
            progress.Update(done, all, "archive files read");
        });
        progress.Finish($"read {files} archive files");

        foreach (WindowDifference difference in report.Differences)
        {
            Console.WriteLine($"differs\tp{difference.Partition}\t{Window(difference.Key)}\t{difference.Field}\tstored={difference.Stored}\trecomputed={difference.Recomputed}");
        }

        // Too-late clicks are not counted (a window row's too_late only counts them): the archive says which windows they were for.
        foreach (WindowResult window in report.Windows.Where(w => w.TooLate > 0))
        {
            Console.WriteLine($"too_late\tp{window.Partition}\t{Window(window.Key)}\t{window.TooLate}");
        }

        Console.WriteLine(
            $"windows {report.WindowsCompared}, matched {report.WindowsMatched}, differing {report.WindowsDiffering}; " +
            $"archived clicks read {report.ClicksRead} (too late {report.TooLate}); differences {report.Differences.Count}");
        return report.Differences.Count == 0 ? 0 : 1;
    }

    private static string Window(WindowKey key) =>
        $"{TimeText.Format(key.Minute * 60_000)}\tad={key.AdId} advertiser={key.AdvertiserId} campaign={key.CampaignId} " +
        $"publisher={key.PublisherId} country={key.Country} device={DeviceNames.ToWire(key.Device)}";

    private static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");
}

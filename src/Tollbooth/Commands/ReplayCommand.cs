using System.Diagnostics;
using Tollbooth.Archive;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth replay --data DIR</c>: deletes every stored row and checkpoint and rebuilds them from
/// the log with the same code as <c>serve</c>; the same log gives the same rows, bit for bit (I5). It refuses, leaving
/// the store as it is, once retention deleted the log's oldest segments (Log:RetentionHours).
/// With <c>--from-archive</c> it rebuilds them from the raw archive instead, without reading the log:
/// every archived click counted with its archived verdict (see <see cref="ArchiveReplay"/>).
/// </summary>
public static class ReplayCommand
{
    public static int Run(TollboothSettings settings, bool fromArchive = false)
    {
        using DataDirectory data = DataDirectory.OpenExisting(settings, "replay", Warn);
        return fromArchive ? FromArchive(settings, data) : FromLog(settings, data);
    }

    private static int FromLog(TollboothSettings settings, DataDirectory data)
    {
        // Checked before anything is deleted: a log that lost its oldest segments to retention cannot give the rows back.
        for (int partition = 0; partition < data.Log.PartitionCount; partition++)
        {
            long first = data.Log.FirstPosition(partition);
            if (first > 0)
            {
                Console.Error.WriteLine(
                    $"error: the log starts at position {first} of partition {partition} (older segments were deleted by Log:RetentionHours); " +
                    "rebuild with `tollbooth replay --from-archive`. The store is unchanged.");
                return 1;
            }
        }

        data.Store.Clear();
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"replaying {Enumerable.Range(0, data.Log.PartitionCount).Sum(p => data.Log.DurableEnd(p))} clicks from {data.Path}");
        ProgressDisplay progress = ProgressDisplay.ForConsole(TimeSpan.FromSeconds(1));
        (Exception? failure, long processed, long total) = OfflinePipeline.Run(
            settings, data, Warn, (done, all) => progress.Update(done, all, "clicks replayed"));
        if (failure is not null)
        {
            progress.Finish($"replayed {processed} of {total} clicks");
            Console.Error.WriteLine($"error: replay stopped: {failure.Message}");
            return 1;
        }

        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-6);
        progress.Finish($"replayed {processed} clicks in {seconds:F2} s ({processed / seconds:F0} clicks/s)");
        return 0;
    }

    private static int FromArchive(TollboothSettings settings, DataDirectory data)
    {
        int partitions = data.Log.PartitionCount;
        // Checked before anything is deleted: a store the archive cannot rebuild stays as it is.
        if (ArchiveReplay.Incomplete(data.ArchiveDirectory, partitions) is { } problem)
        {
            Console.Error.WriteLine($"error: {problem}, so it cannot rebuild the store; rebuild it from the log with `tollbooth replay` (without --from-archive). The store is unchanged.");
            return 1;
        }

        data.Store.Clear();
        var clock = Stopwatch.StartNew();
        long archived = Enumerable.Range(0, partitions).Sum(p => ParquetArchive.ReadMark(data.ArchiveDirectory, p));
        Console.WriteLine($"replaying {archived} archived clicks from {data.ArchiveDirectory}");
        ProgressDisplay progress = ProgressDisplay.ForConsole(TimeSpan.FromSeconds(1));
        long counted = ArchiveReplay.Rebuild(
            data.ArchiveDirectory, data.Store, settings.ToAggregatorOptions(), partitions, (done, all) => progress.Update(done, all, "archived clicks replayed"));
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-6);
        progress.Finish($"replayed {counted} archived clicks in {seconds:F2} s ({counted / seconds:F0} clicks/s)");
        long inLog = Enumerable.Range(0, partitions).Sum(p => data.Log.DurableEnd(p));
        if (inLog > counted)
        {
            Console.WriteLine($"the log holds {inLog - counted} clicks the archive does not have yet; the next start counts them from the log");
        }

        foreach (int partition in Enumerable.Range(0, partitions).Where(p => data.Log.DurableEnd(p) < ParquetArchive.ReadMark(data.ArchiveDirectory, p)))
        {
            // The store now counts positions the log lacks: a start refuses that until the log is back.
            Warn($"partition {partition}: the log ends at position {data.Log.DurableEnd(partition)}, before the archive's {ParquetArchive.ReadMark(data.ArchiveDirectory, partition)}; restore the log before `tollbooth serve`.");
        }

        return 0;
    }

    private static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");
}

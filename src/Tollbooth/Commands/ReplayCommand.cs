using System.Diagnostics;
using Tollbooth.Processing;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth replay --data DIR</c>: deletes every stored row and checkpoint and rebuilds them from
/// the log with the same code as <c>serve</c>; the same log gives the same rows, bit for bit (I5).
/// </summary>
public static class ReplayCommand
{
    public static int Run(TollboothSettings settings)
    {
        using DataDirectory data = DataDirectory.Open(settings, Warn);
        data.Store.Clear();
        Exception? failure = null;
        using var pipeline = new Pipeline(data.Log, data.Store, settings.ToAggregatorOptions(), settings.ToProcessorOptions(data.DedupSnapshotDirectory, Warn, archive: data.OpenArchive(settings.Archive)), (partition, exception) =>
        {
            failure ??= exception;
        });

        long total = pipeline.Ingested;
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"replaying {total} clicks from {data.Path}");
        pipeline.Start();
        ProgressDisplay progress = ProgressDisplay.ForConsole(TimeSpan.FromSeconds(1));
        while (!pipeline.IsCaughtUp() && failure is null)
        {
            Thread.Sleep(100);
            progress.Update(pipeline.Processed, total, "clicks replayed");
        }

        pipeline.Stop();
        if (failure is not null)
        {
            progress.Finish($"replayed {pipeline.Processed} of {total} clicks");
            Console.Error.WriteLine($"error: replay stopped: {failure.Message}");
            return 1;
        }

        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-6);
        progress.Finish($"replayed {pipeline.Processed} clicks in {seconds:F2} s ({pipeline.Processed / seconds:F0} clicks/s)");
        return 0;
    }

    private static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");
}

using System.Diagnostics;

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

    private static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");
}

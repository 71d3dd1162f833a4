using System.Diagnostics;
using Tollbooth.Core;

namespace Tollbooth.Benchmarks;

/// <summary>
/// The dedup index's memory per remembered click id at 10,000,000 ids, and its insert rate. Baseline:
/// a HashSet of the same 128-bit fingerprints (no positions, no minutes), same ids, same run.
/// </summary>
public static class DedupBenchmark
{
    public static void Run(ResultTable table, int ids)
    {
        long before = Heap();
        var clock = Stopwatch.StartNew();
        var index = new DedupIndex(ids * 2L);
        for (int i = 0; i < ids; i++)
        {
            index.Observe(ClickFingerprint.Of("c" + i), i, DedupIndex.MinuteEpoch + (i / 100_000), long.MinValue);
        }

        double indexSeconds = clock.Elapsed.TotalSeconds;
        double indexHeapPerId = (double)(Heap() - before) / ids;
        double indexPerId = index.BytesPerId;
        GC.KeepAlive(index);
        index = null;

        before = Heap();
        clock.Restart();
        var set = new HashSet<UInt128>();
        for (int i = 0; i < ids; i++)
        {
            set.Add(ClickFingerprint.Of("c" + i));
        }

        double setSeconds = clock.Elapsed.TotalSeconds;
        double setPerId = (double)(Heap() - before) / ids;
        GC.KeepAlive(set);

        table.Add($"dedup memory at {ids:N0} ids (index's own slots; heap growth {indexHeapPerId:0.0} B)", indexPerId, setPerId, "HashSet<UInt128> heap growth", "bytes/id", higherIsBetter: false);
        table.Add($"dedup inserts at {ids:N0} ids (growing from empty)", ids / indexSeconds, ids / setSeconds, "HashSet<UInt128> inserts", "ids/s");
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

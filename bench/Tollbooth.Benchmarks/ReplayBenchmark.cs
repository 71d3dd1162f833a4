using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Processing a replayed log on one thread (so clicks/s is per core): every record read from the
/// segment files, decoded and applied (dedup, bot rule, windows, the billing ticks), with the changed
/// rows taken every 100,000 clicks as a commit would. Baseline: read and decode only, same log, same run.
/// </summary>
public static class ReplayBenchmark
{
    private sealed class NoStoredRows : IWindowRowSource
    {
        public WindowRow? Load(WindowKey key) => null;
    }

    public static async Task RunAsync(ResultTable table, int clicks)
    {
        string directory = await WrittenLogAsync(clicks);
        try
        {
            using SegmentLog reopened = SegmentLog.Open(new SegmentLogOptions { Directory = directory, PartitionCount = 1 });
            (double processed, double decodeOnly) = MeasureProcessing(reopened, clicks);
            table.Add($"replay processing, one thread ({clicks:N0} clicks: dedup + rules + windows, flat state)", processed, decodeOnly, "read + decode to click objects only", "clicks/s");

            // The raw archive's cost: the same processing, every click and verdict also written to Parquet (fsynced).
            string archiveRoot = Path.Combine(directory, "archive");
            double archived = Measure(reopened, clicks, aggregate: true, new Tollbooth.Archive.ParquetArchive(archiveRoot, partitions: 1));
            table.Add("replay processing with the raw archive written (Parquet by hour, fsynced)", archived, processed, "processing alone", "clicks/s");
            var reconcile = Stopwatch.StartNew();
            Tollbooth.Archive.ReconcileReport report = Tollbooth.Archive.Reconciler.Run(archiveRoot, [], long.MinValue / 120_000, long.MaxValue / 120_000);
            double reconciled = report.ClicksRead / reconcile.Elapsed.TotalSeconds;
            table.Add("reconcile: archived clicks read and counted into windows", reconciled, processed, "replay processing", "clicks/s");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Processing clicks/s on one thread and, as its baseline, read + decode only, over the same log in this run.</summary>
    public static async Task<(double Processed, double DecodeOnly)> ProcessingAsync(int clicks)
    {
        string directory = await WrittenLogAsync(clicks);
        try
        {
            using SegmentLog reopened = SegmentLog.Open(new SegmentLogOptions { Directory = directory, PartitionCount = 1 });
            return MeasureProcessing(reopened, clicks);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // A first pass of each warms the page cache and the JIT; the second is measured.
    private static (double Processed, double DecodeOnly) MeasureProcessing(SegmentLog log, int clicks)
    {
        Measure(log, clicks, aggregate: false);
        Measure(log, clicks, aggregate: true);
        double decodeOnly = Measure(log, clicks, aggregate: false, ids: new IdPool());
        double processed = Measure(log, clicks, aggregate: true);
        return (processed, decodeOnly);
    }

    // One partition's log of the workload's clicks, a day ago, 20 clicks a millisecond of event time.
    private static async Task<string> WrittenLogAsync(int clicks)
    {
        string directory = Path.Combine(Path.GetTempPath(), "tollbooth-bench-log-" + Guid.NewGuid().ToString("N"));
        using SegmentLog log = SegmentLog.Open(new SegmentLogOptions { Directory = directory, PartitionCount = 1 });
        var workload = new Workload(seed: 11);
        long start = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds();
        const int batch = 10_000;
        for (int written = 0; written < clicks; written += batch)
        {
            var payloads = new List<byte[]>(batch);
            for (int i = 0; i < batch; i++)
            {
                payloads.Add(ClickCodec.Encode(workload.Next(start + ((written + i) / 20))));
            }

            await log.AppendAsync(0, payloads);
        }

        return directory;
    }

    private static double Measure(SegmentLog log, int clicks, bool aggregate, Tollbooth.Archive.ParquetArchive? archive = null, IdPool? ids = null)
    {
        archive?.ArchivedEnd(0);
        var aggregator = new PartitionAggregator(0, new AggregatorOptions(), new NoStoredRows());
        using ILogReader reader = log.OpenReader(0, 0);
        var batch = new LogReadBatch();
        long checksum = 0;
        int sinceCommit = 0;
        var clock = Stopwatch.StartNew();
        int count;
        while ((count = reader.Read(batch)) > 0)
        {
            for (int i = 0; i < count; i++)
            {
                if (aggregate)
                {
                    ClickOutcome outcome = aggregator.Apply(batch[i], batch.FirstPosition + i);
                    checksum += (int)outcome.Verdict;
                    archive?.Add(0, batch.FirstPosition + i, batch[i], outcome);
                }
                else
                {
                    checksum += ClickCodec.Decode(batch[i], ids).CostMicros;
                }
            }

            sinceCommit += count;
            if (aggregate && sinceCommit >= 100_000)
            {
                checksum += aggregator.TakeChangedRows().Count + aggregator.TakeChanges().Count;
                aggregator.EvictSettledRows();
                sinceCommit = 0;
            }

            if (archive is not null && archive.FlushDue(0))
            {
                archive.Flush(0);
            }
        }

        archive?.Flush(0);

        double seconds = clock.Elapsed.TotalSeconds;
        if (reader.Position != clicks)
        {
            throw new InvalidOperationException($"read {reader.Position} records, wrote {clicks}.");
        }

        GC.KeepAlive(checksum);
        return clicks / seconds;
    }
}

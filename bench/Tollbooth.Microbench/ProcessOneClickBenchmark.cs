using BenchmarkDotNet.Attributes;
using Tollbooth.Core;

namespace Tollbooth.Microbench;

/// <summary>
/// One click through a partition's processor, as replay drives it: <see cref="PartitionAggregator.Apply(ReadOnlySpan{byte}, long)"/>
/// of an encoded record (dedup index lookup and insert, bot and rate rules, the window row, the billing ticks when the
/// watermark crosses a minute), in a steady state: the stream's event time keeps advancing, so windows close and
/// finalise and settled rows are evicted after each commit; the tables were warmed for 150 minutes of event time and
/// sized (the dedup index's floor capacity holds its peak between compactions, the row table its resident rows).
/// The dedup index is not a separate stage: Apply observes every click id in the aggregator's own index, so both
/// figures include it.
/// <para>
/// Event time is compressed so a short run reaches that state: 20,000 clicks a minute, allowed lateness and the dedup
/// horizon 15 minutes (the defaults are 24 and 48 hours), still above the stream's latest click (10 minutes), so no
/// click is too late. A commit every 16,384 clicks (49 s of event time; replay commits every 100,000 clicks, 5 s of its
/// event time, the service every 250 ms), so a commit forgets at most one minute of rate counters, as in the service.
/// </para>
/// </summary>
[MemoryDiagnoser]
[IterationCount(24)]
public class ProcessOneClickBenchmark
{
    private const int ClicksPerCommit = 1 << 14;
    private const int CommitsPerInvoke = 8;
    private const int RingClicks = 1 << 18;
    private const int WarmupMinutes = 150;
    private const int DedupSlots = 1 << 21;

    private static readonly AggregatorOptions s_options = new()
    {
        AllowedLatenessMs = 15 * 60_000L,
        DedupHorizonMs = 15 * 60_000L,
        ResidentRowsInitialCapacity = 1 << 19,
    };

    private ClickStream _stream = null!;
    private PartitionAggregator _aggregator = null!;
    private long _position;
    private long _handedOff;

    private sealed class NoStoredRows : IWindowRowSource
    {
        public WindowRow? Load(WindowKey key) => null;
    }

    [GlobalSetup]
    public void Setup()
    {
        _stream = new ClickStream(RingClicks);
        var dedup = new DedupIndex(s_options.DedupIdsMax, initialCapacity: DedupSlots);
        _aggregator = new PartitionAggregator(0, s_options, new NoStoredRows(), dedup);
        for (long i = 0; i < (long)WarmupMinutes * ClickStream.ClicksPerMinute; i++)
        {
            _aggregator.Apply(_stream.Next(), _position++);
            if (_position % ClicksPerCommit == 0)
            {
                Commit();
            }
        }

        Commit();
        Console.WriteLine($"// warmed: {_position:N0} clicks, {_aggregator.ResidentRowCount:N0} resident rows, {_aggregator.Dedup.Count:N0} dedup ids in {_aggregator.Dedup.Capacity:N0} slots, {_handedOff / (double)_position:F2} rows handed off per click");
    }

    /// <summary>
    /// The commit between two measured runs of <see cref="ProcessOneClick"/> (not measured): the changed rows and the
    /// published changes handed off as objects for the store, then the settled rows evicted.
    /// </summary>
    [IterationSetup(Target = nameof(ProcessOneClick))]
    public void Commit()
    {
        _handedOff += _aggregator.TakeChangedRows().Count;
        _aggregator.TakeChanges();
        _aggregator.EvictSettledRows();
    }

    /// <summary>Apply alone: the per-click path, with the commit hand-off done between iterations (not measured).</summary>
    [Benchmark(OperationsPerInvoke = ClicksPerCommit)]
    public long ProcessOneClick()
    {
        long verdicts = 0;
        for (int i = 0; i < ClicksPerCommit; i++)
        {
            verdicts += (long)_aggregator.Apply(_stream.Next(), _position++).Verdict;
        }

        return verdicts;
    }

    /// <summary>
    /// Apply with the commits in the measured loop: what one click costs including its share of the row objects
    /// handed to the store and the changes feed (each a <see cref="WindowRow"/>), of eviction and of dedup compaction.
    /// </summary>
    [Benchmark(OperationsPerInvoke = ClicksPerCommit * CommitsPerInvoke)]
    public long ProcessOneClickWithCommit()
    {
        long verdicts = 0;
        for (int i = 0; i < ClicksPerCommit * CommitsPerInvoke; i++)
        {
            verdicts += (long)_aggregator.Apply(_stream.Next(), _position++).Verdict;
            if (_position % ClicksPerCommit == 0)
            {
                Commit();
            }
        }

        return verdicts;
    }
}

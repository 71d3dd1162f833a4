using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Query;

/// <summary>One window of an aggregates answer: numbers summed over its minutes, users merged, not summed.</summary>
public sealed record AggregateWindow(long StartMinute, string? Group, WindowNumbers Numbers, WindowStatus Status, long Revision)
{
    /// <summary>The versions of the rule sets that decided the window's rows, in ordinal order.</summary>
    public IReadOnlyList<string> RuleVersions { get; init; } = [];

    public bool Final => Status >= WindowStatus.Final;
}

/// <summary>
/// Minute, hour and day windows of an ad, a campaign or an advertiser, from the stored minute rows.
/// The status readers see is the stored one, moved forward by the watermark the caller passes (the global
/// one, so quiet partitions do not hold windows open); it moves a flag, never a count.
/// </summary>
public sealed class AggregateQueries(IWindowReader store, AggregatorOptions options, IWindowReader? rawEvents = null)
{
    /// <summary>
    /// The windows overlapping minutes <c>[fromMinute, toMinute)</c>, returned whole: the range is widened
    /// to the buckets' edges before reading.
    /// </summary>
    public IReadOnlyList<AggregateWindow> Windows(
        WindowSelector selector, TimeBuckets buckets, Breakdown breakdown, long? watermarkMs) =>
        Collect(selector, buckets, breakdown, watermarkMs, int.MaxValue)!;

    /// <summary>
    /// <see cref="Windows"/>, or false as soon as the answer would hold more than <paramref name="rowsMax"/> windows
    /// (each group of a breakdown counts as a window).
    /// </summary>
    public bool TryWindows(
        WindowSelector selector, TimeBuckets buckets, Breakdown breakdown, long? watermarkMs, int rowsMax, out IReadOnlyList<AggregateWindow> windows)
    {
        IReadOnlyList<AggregateWindow>? collected = Collect(selector, buckets, breakdown, watermarkMs, rowsMax);
        windows = collected ?? [];
        return collected is not null;
    }

    private List<AggregateWindow>? Collect(
        WindowSelector selector, TimeBuckets buckets, Breakdown breakdown, long? watermarkMs, int rowsMax)
    {
        long from = buckets.StartOf(selector.FromMinute);
        long to = selector.ToMinute <= selector.FromMinute ? from : buckets.EndOf(buckets.StartOf(selector.ToMinute - 1));
        IWindowReader reader = WindowReaders.For(selector.Filter, store, rawEvents);
        WindowSelector widened = selector with { FromMinute = from, ToMinute = to };

        // Windows made of whole UTC hours may take pre-rolled hours: the same sums, merges and bounds as their minutes.
        IReadOnlyList<MinuteTotals> minutes = breakdown == Breakdown.None && reader is IHourTotalsReader hours && buckets.AllOnWholeUtcHours(from, to)
            ? hours.ReadHourTotals(widened)
            : reader.ReadMinuteTotals(widened, breakdown);

        // Minutes come in minute order, so each bucket's minutes are contiguous; groups interleave.
        var open = new Dictionary<string, Accumulator>(StringComparer.Ordinal);
        var windows = new List<AggregateWindow>();
        long bucketStart = long.MinValue;
        long bucketEnd = long.MinValue;
        foreach (MinuteTotals minute in minutes)
        {
            if (minute.Minute >= bucketEnd)
            {
                Flush(open, windows, bucketStart, bucketEnd, watermarkMs);
                bucketStart = buckets.StartOf(minute.Minute);
                bucketEnd = buckets.EndOf(bucketStart);
            }

            string group = minute.Group ?? string.Empty;
            if (!open.TryGetValue(group, out Accumulator? accumulator))
            {
                if (windows.Count + open.Count >= rowsMax)
                {
                    return null;
                }

                accumulator = new Accumulator(minute.Group);
                open.Add(group, accumulator);
            }

            accumulator.Add(minute);
        }

        Flush(open, windows, bucketStart, bucketEnd, watermarkMs);
        return windows;
    }

    private void Flush(Dictionary<string, Accumulator> open, List<AggregateWindow> windows, long start, long end, long? watermarkMs)
    {
        foreach (Accumulator accumulator in open.Values.OrderBy(a => a.Group, StringComparer.Ordinal))
        {
            WindowNumbers numbers = accumulator.Numbers with { UniqueUsers = accumulator.Users.Estimate() };
            windows.Add(new AggregateWindow(start, accumulator.Group, numbers, ReaderStatus(accumulator, start, end, watermarkMs), accumulator.Revision)
            {
                RuleVersions = accumulator.RuleVersions.ToArray(),
            });
        }

        open.Clear();
    }

    private WindowStatus ReaderStatus(Accumulator accumulator, long startMinute, long endMinute, long? watermarkMs)
    {
        WindowStatus stored = accumulator.Least >= WindowStatus.Final && accumulator.Most == WindowStatus.Amended
            ? WindowStatus.Amended
            : accumulator.Least;
        if (watermarkMs is not long watermark)
        {
            return stored;
        }

        long endMs = endMinute * 60_000;
        if (endMs > watermark)
        {
            // An hour or a day still filling is open, whatever its minutes say; a minute keeps what its
            // partition decided (the global watermark may lag behind that partition's).
            return endMinute - startMinute > 1 && stored < WindowStatus.Final ? WindowStatus.Open : stored;
        }

        WindowStatus byWatermark = endMs <= watermark - options.AllowedLatenessMs ? WindowStatus.Final : WindowStatus.Closed;
        return stored >= byWatermark ? stored : byWatermark;
    }

    private sealed class Accumulator(string? group)
    {
        public string? Group { get; } = group;

        public WindowNumbers Numbers { get; private set; }

        public HyperLogLog Users { get; } = new();

        public WindowStatus Least { get; private set; } = WindowStatus.Amended;

        public WindowStatus Most { get; private set; } = WindowStatus.Open;

        public long Revision { get; private set; }

        public SortedSet<string> RuleVersions { get; } = new(StringComparer.Ordinal);

        public void Add(MinuteTotals minute)
        {
            Numbers = WindowNumbers.SumOf(Numbers, minute.Numbers);
            Users.Merge(minute.Users);
            Least = minute.LeastStatus < Least ? minute.LeastStatus : Least;
            Most = minute.MostStatus > Most ? minute.MostStatus : Most;
            Revision += minute.Revision;
            RuleVersions.UnionWith(minute.RuleVersions);
        }
    }
}

namespace Tollbooth.Loadgen;

/// <summary>
/// Acknowledgement latencies in whole milliseconds (up to a minute), for percentiles: one histogram
/// over the run and one since the last progress line.
/// </summary>
public sealed class AckLatencies
{
    private const int MillisecondsMax = 60_000;
    private readonly long[] _run = new long[MillisecondsMax + 1];
    private long[] _recent = new long[MillisecondsMax + 1];

    public void Record(TimeSpan latency)
    {
        int ms = (int)Math.Clamp(latency.TotalMilliseconds, 0, MillisecondsMax);
        Interlocked.Increment(ref _run[ms]);
        Interlocked.Increment(ref Volatile.Read(ref _recent)[ms]);
    }

    /// <summary>The quantile (0 to 1) over the whole run, in ms; 0 before any acknowledgement.</summary>
    public int RunQuantileMs(double quantile) => Quantile(_run, quantile);

    /// <summary>The quantile since the previous call, then starts a new interval.</summary>
    public int TakeRecentQuantileMs(double quantile) => Quantile(Interlocked.Exchange(ref _recent, new long[MillisecondsMax + 1]), quantile);

    private static int Quantile(long[] histogram, double quantile)
    {
        long total = 0;
        for (int ms = 0; ms < histogram.Length; ms++)
        {
            total += Volatile.Read(ref histogram[ms]);
        }

        if (total == 0)
        {
            return 0;
        }

        long rank = (long)Math.Ceiling(quantile * total);
        long seen = 0;
        for (int ms = 0; ms < histogram.Length; ms++)
        {
            seen += Volatile.Read(ref histogram[ms]);
            if (seen >= rank)
            {
                return ms;
            }
        }

        return MillisecondsMax;
    }
}

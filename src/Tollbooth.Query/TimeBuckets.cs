namespace Tollbooth.Query;

public enum Granularity
{
    Minute,
    Hour,
    Day,
}

/// <summary>
/// Where minute, hour and day windows begin in a time zone. Stored rows are per UTC minute, so any zone
/// works, with offsets of 30 and 45 minutes and across daylight-saving changes: an hour is the run of
/// minutes that share a local hour, a day those that share a local date. All values are epoch minutes.
/// </summary>
public sealed class TimeBuckets(Granularity granularity, TimeZoneInfo zone)
{
    public Granularity Granularity { get; } = granularity;

    public TimeZoneInfo Zone { get; } = zone;

    /// <summary>The first minute of the window holding <paramref name="minute"/>.</summary>
    public long StartOf(long minute)
    {
        switch (Granularity)
        {
            case Granularity.Minute:
                return minute;
            case Granularity.Hour:
                long offset = OffsetMinutes(minute);
                return minute - Mod(minute + offset, 60);
            default:
                DateTime local = Local(minute);
                return MidnightUtcMinute(local.Date);
        }
    }

    /// <summary>The first minute after the window that starts at <paramref name="start"/>.</summary>
    public long EndOf(long start)
    {
        switch (Granularity)
        {
            case Granularity.Minute:
                return start + 1;
            case Granularity.Hour:
                // Usually 60 minutes; a daylight-saving change inside the hour moves it.
                long end = start + 60;
                while (end > start + 1 && StartOf(end - 1) != start)
                {
                    end--;
                }

                while (StartOf(end) == start)
                {
                    end++;
                }

                return end;
            default:
                return MidnightUtcMinute(Local(start).Date.AddDays(1));
        }
    }

    /// <summary>
    /// True when every window from the one holding <paramref name="fromMinute"/> up to <paramref name="toMinute"/>
    /// starts and ends on a whole UTC hour: hours and days of zones whose offsets are whole hours, not minutes, and
    /// not zones with a 30 or 45 minute offset at any point of the range.
    /// </summary>
    public bool AllOnWholeUtcHours(long fromMinute, long toMinute)
    {
        if (Granularity == Granularity.Minute)
        {
            return false;
        }

        long start = StartOf(fromMinute);
        while (start < toMinute)
        {
            if (Mod(start, 60) != 0)
            {
                return false;
            }

            start = EndOf(start);
        }

        return Mod(start, 60) == 0;
    }

    private long OffsetMinutes(long minute) =>
        (long)Zone.GetUtcOffset(DateTime.UnixEpoch.AddMinutes(minute)).TotalMinutes;

    private DateTime Local(long minute) => TimeZoneInfo.ConvertTimeFromUtc(DateTime.UnixEpoch.AddMinutes(minute), Zone);

    // The instant a local date begins: its midnight, or the first valid local time after it where a
    // daylight-saving change skips midnight; the earlier instant where midnight happens twice.
    private long MidnightUtcMinute(DateTime localDate)
    {
        DateTime midnight = DateTime.SpecifyKind(localDate, DateTimeKind.Unspecified);
        while (Zone.IsInvalidTime(midnight))
        {
            midnight = midnight.AddMinutes(15);
        }

        TimeSpan offset = Zone.IsAmbiguousTime(midnight)
            ? Zone.GetAmbiguousTimeOffsets(midnight).Max()
            : Zone.GetUtcOffset(midnight);
        return (long)(midnight - offset - DateTime.UnixEpoch).TotalMinutes;
    }

    private static long Mod(long value, long divisor) => ((value % divisor) + divisor) % divisor;
}

using System.Globalization;
using Tollbooth.Core;
using Tollbooth.Query;

namespace Tollbooth.Http;

/// <summary>Parsing of the query parameters shared by the query endpoints, each failure a 400 that says what to send.</summary>
public static class QueryParameters
{
    private static readonly string[] s_localFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd",
    ];

    /// <summary>
    /// An RFC 3339 time, epoch milliseconds, or a local time without an offset (read in <paramref name="zone"/>);
    /// <paramref name="fallbackMs"/> when absent.
    /// </summary>
    public static bool TryTime(string? text, TimeZoneInfo zone, long fallbackMs, out long epochMs)
    {
        if (string.IsNullOrEmpty(text))
        {
            epochMs = fallbackMs;
            return true;
        }

        if (TimeText.TryParse(text, out epochMs))
        {
            return true;
        }

        if (DateTime.TryParseExact(text, s_localFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out DateTime local))
        {
            DateTime unspecified = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
            while (zone.IsInvalidTime(unspecified))
            {
                unspecified = unspecified.AddMinutes(15);
            }

            epochMs = new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(unspecified, zone)).ToUnixTimeMilliseconds();
            return true;
        }

        return false;
    }

    public static IResult BadTime(string name) =>
        ApiError.Result(400, "invalid_time", $"{name} must be an RFC 3339 time such as 2026-11-22T10:04:00Z, a local time such as 2026-11-22T10:04 read in tz, or integer epoch milliseconds.");

    public static bool TryZone(string? name, out TimeZoneInfo zone)
    {
        zone = TimeZoneInfo.Utc;
        if (string.IsNullOrEmpty(name) || name is "UTC" or "Etc/UTC" or "Z")
        {
            return true;
        }

        // Only IANA names: a Windows name or an offset would make the same link mean different days elsewhere.
        if (!name.Contains('/') || !TimeZoneInfo.TryFindSystemTimeZoneById(name, out TimeZoneInfo? found) || !found.HasIanaId)
        {
            return false;
        }

        zone = found;
        return true;
    }

    public static IResult BadZone() =>
        ApiError.Result(400, "invalid_time_zone", "tz must be an IANA time zone name such as America/New_York or UTC.");

    public static bool TryGranularity(string? text, out Granularity granularity)
    {
        granularity = Granularity.Minute;
        switch (text)
        {
            case null or "" or "minute": return true;
            case "hour": granularity = Granularity.Hour; return true;
            case "day": granularity = Granularity.Day; return true;
            default: return false;
        }
    }

    /// <summary>A whole number in <c>[min, max]</c>, or <paramref name="fallback"/> when absent.</summary>
    public static bool TryInt(string? text, int min, int max, int fallback, out int value)
    {
        if (string.IsNullOrEmpty(text))
        {
            value = fallback;
            return true;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
    }

    /// <summary>A duration such as <c>30s</c>, <c>5m</c> or <c>24h</c>, between 30 seconds and 24 hours.</summary>
    public static bool TryDuration(string? text, out long milliseconds)
    {
        milliseconds = 0;
        if (string.IsNullOrEmpty(text) || text.Length < 2)
        {
            return false;
        }

        long unit = text[^1] switch { 's' => 1000, 'm' => 60_000, 'h' => 3_600_000, _ => 0 };
        if (unit == 0 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long amount))
        {
            return false;
        }

        milliseconds = amount * unit;
        return milliseconds is >= 30_000 and <= 86_400_000;
    }
}

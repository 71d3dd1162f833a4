using System.Globalization;

namespace Tollbooth.Core;

/// <summary>Times on the wire: RFC 3339 with <c>Z</c> out; RFC 3339 or epoch milliseconds in.</summary>
public static class TimeText
{
    public static string Format(long epochMs)
    {
        DateTimeOffset time = DateTimeOffset.FromUnixTimeMilliseconds(epochMs);
        return time.Millisecond == 0
            ? time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Parses RFC 3339 (offset required, fractions allowed) or integer epoch milliseconds.</summary>
    public static bool TryParse(string? text, out long epochMs) => TryParse(text.AsSpan(), out epochMs);

    /// <summary>
    /// <see cref="TryParse(string?, out long)"/> over characters (the ingest record parser reads timestamps without
    /// making strings).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long epochMs)
    {
        epochMs = 0;
        if (text.IsWhiteSpace())
        {
            return false;
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out epochMs))
        {
            return epochMs <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();
        }

        bool hasOffset = text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && (text[^6] == '+' || text[^6] == '-') && text[^3] == ':');
        if (text.Length < 20 || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !hasOffset)
        {
            return false;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
        {
            epochMs = parsed.ToUnixTimeMilliseconds();
            return true;
        }

        return false;
    }

    public static long FloorToMinuteMs(long epochMs) => epochMs - (((epochMs % 60_000) + 60_000) % 60_000);
}

using System.Globalization;

namespace Tollbooth.Loadgen;

/// <summary>
/// The flags of <c>tollbooth loadgen</c>. Flags it does not know are left for the settings (<c>--config</c>,
/// <c>--Rules:...</c>, <c>--Processing:BotUserAgents:N</c>): loadgen's truth assumes the rules the server runs
/// with, read from the same sources.
/// </summary>
public sealed record LoadgenOptions
{
    private static readonly string[] s_names = ["url", "key", "rate", "clicks", "duration", "batch", "connections", "seed", "ads", "check", "no-check", "run-id"];

    public required Uri Url { get; init; }

    public required string Key { get; init; }

    /// <summary>Clicks a second; 0 means as fast as the server acknowledges.</summary>
    public long RatePerSecond { get; init; } = 1000;

    /// <summary>Stop after this many generated clicks; 0 means no limit.</summary>
    public long ClicksMax { get; init; }

    /// <summary>Stop after this long; zero means no limit.</summary>
    public TimeSpan Duration { get; init; }

    public int BatchClicks { get; init; } = 100;

    public int Connections { get; init; } = 8;

    public int Seed { get; init; } = 1;

    public int Ads { get; init; } = 200;

    public bool Check { get; init; } = true;

    /// <summary>Prefix of every ad, advertiser and click id, so runs against one server never meet.</summary>
    public required string RunId { get; init; }

    /// <summary>Takes loadgen's own flags out of <paramref name="flags"/> (the rest are settings) and checks them.</summary>
    public static LoadgenOptions Take(Dictionary<string, string> flags, string? environmentKey, DateTimeOffset now)
    {
        var own = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in s_names)
        {
            if (flags.Remove(name, out string? value))
            {
                own[name] = value;
            }
        }

        string urlText = own.GetValueOrDefault("url", "http://127.0.0.1:8080");
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out Uri? url) || url.Scheme is not ("http" or "https"))
        {
            throw new SettingsException($"--url must be the server's base URL such as http://127.0.0.1:8080, not '{urlText}'.");
        }

        string key = own.GetValueOrDefault("key") ?? environmentKey ?? "";
        if (key.Length == 0 || key == "true")
        {
            throw new SettingsException("loadgen needs an API key: pass --key KEY (an admin key for the full workload and the check) or set TOLLBOOTH_ADMIN_KEY.");
        }

        long clicks = Whole(own, "clicks", 0, 0, long.MaxValue);
        TimeSpan duration = own.TryGetValue("duration", out string? durationText) ? ParseDuration(durationText) : TimeSpan.Zero;
        if (clicks == 0 && duration == TimeSpan.Zero)
        {
            duration = TimeSpan.FromSeconds(30);
        }

        bool check = !own.ContainsKey("no-check") && own.GetValueOrDefault("check", "true") switch
        {
            "true" => true,
            "false" => false,
            string other => throw new SettingsException($"--check must be true or false, not '{other}'."),
        };
        string runId = own.GetValueOrDefault("run-id") ?? "lg" + now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        if (runId.Length is 0 or > 24 || !runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
        {
            throw new SettingsException("--run-id must be 1 to 24 characters of letters, digits, '.', '_', ':' or '-'.");
        }

        return new LoadgenOptions
        {
            Url = url,
            Key = key,
            RatePerSecond = own.GetValueOrDefault("rate") == "max" ? 0 : Whole(own, "rate", 1000, 1, 100_000_000),
            ClicksMax = clicks,
            Duration = duration,
            BatchClicks = (int)Whole(own, "batch", 100, 1, 10_000),
            Connections = (int)Whole(own, "connections", 8, 1, 1024),
            Seed = (int)Whole(own, "seed", 1, int.MinValue, int.MaxValue),
            Ads = (int)Whole(own, "ads", 200, 1, 1_000_000),
            Check = check,
            RunId = runId,
        };
    }

    private static long Whole(Dictionary<string, string> own, string name, long absent, long min, long max)
    {
        if (!own.TryGetValue(name, out string? text))
        {
            return absent;
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) || value < min || value > max)
        {
            string extra = name == "rate" ? " or max" : "";
            throw new SettingsException($"--{name} must be a whole number from {min} to {max}{extra}, not '{text}'.");
        }

        return value;
    }

    /// <summary>Reads <c>90</c> (seconds), <c>90s</c>, <c>5m</c> or <c>1h</c>.</summary>
    private static TimeSpan ParseDuration(string text)
    {
        (string number, double unitSeconds) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1),
            _ when text.EndsWith('m') => (text[..^1], 60),
            _ when text.EndsWith('h') => (text[..^1], 3600),
            _ => (text, 1),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value <= 0 || value * unitSeconds > 366 * 86400)
        {
            throw new SettingsException($"--duration must be a positive time such as 30s, 5m or 1h, not '{text}'.");
        }

        return TimeSpan.FromSeconds(value * unitSeconds);
    }
}

using System.Buffers;
using System.Text.Json;

namespace Tollbooth.Loadgen;

/// <summary>
/// The seeded workload: the same seed gives the same clicks in the same order (only their timestamps
/// follow the clock). Ads are chosen Zipf-like (a few hot ones, a long tail), publishers too; each ad has
/// one advertiser, one campaign and a fixed price, so spend is clicks times price whatever the order.
/// Senders are indexed: people <c>[0, PeopleCount)</c>, abusers after them, bots last; each has its own
/// IP address (10.x.y.z, never loopback), so the IP limit never sees two senders together.
/// </summary>
public sealed class LoadgenWorkload
{
    public const int PeopleCount = 100_000;
    public const int AbuserCount = 1_000;
    public const int BotCount = 500;
    public const int PublisherCount = 6;

    // Fractions of generated clicks, out of 10,000.
    private const int DuplicatePerTenThousand = 300;
    private const int BotPerTenThousand = 200;
    private const int LatePerTenThousand = 500;
    private const int MalformedPerTenThousand = 30;
    private const int BurstStartPerTenThousand = 20;

    private static readonly string[] s_browserAgents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ];

    private static readonly string[] s_botAgents =
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "python-requests/2.32.3",
        "curl/8.11.0",
        "Scrapy/2.11 (+https://scrapy.org)",
    ];

    private static readonly string[] s_countries = ["US", "US", "US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "AU", "NL"];
    private static readonly string[] s_devices = ["mobile", "mobile", "mobile", "desktop", "desktop", "desktop", "tablet", "ctv"];

    private readonly Random _random;
    private readonly double[] _adCumulative;
    private readonly double[] _publisherCumulative;
    private readonly long[] _priceMicros;
    private readonly LoadClick[] _recent = new LoadClick[4096];
    private readonly long _lateMsMax;
    private readonly object _gate = new();
    private int _recentCount;
    private long _duplicates;
    private long _nextSequence;
    private int _burstLeft;
    private int _burstAd;
    private int _burstUser;
    private long _burstTimestampMs;

    public LoadgenWorkload(string runId, int seed, int ads, long allowedLatenessMs)
    {
        RunId = runId;
        _random = new Random(seed);
        AdCount = ads;
        AdvertiserCount = Math.Clamp(ads / 20, 1, 20);
        _adCumulative = ZipfCumulative(ads, 1.1);
        _publisherCumulative = ZipfCumulative(PublisherCount, 1.0);
        _priceMicros = new long[ads];
        for (int ad = 0; ad < ads; ad++)
        {
            _priceMicros[ad] = 50_000 + (10_000 * _random.Next(0, 196));
        }

        // Late clicks stay well inside the allowed lateness, so none is too late.
        _lateMsMax = Math.Min(600_000, allowedLatenessMs / 2);
    }

    public string RunId { get; }

    public int AdCount { get; }

    public int AdvertiserCount { get; }

    /// <summary>Clicks generated so far (duplicates included).</summary>
    public long Generated
    {
        get
        {
            lock (_gate)
            {
                return _nextSequence + _duplicates;
            }
        }
    }

    public string AdId(int ad) => $"{RunId}-ad{ad:D5}";

    public string AdvertiserId(int ad) => $"{RunId}-adv{ad % AdvertiserCount:D2}";

    public string AdvertiserIdByIndex(int advertiser) => $"{RunId}-adv{advertiser:D2}";

    public string CampaignId(int ad) => $"{RunId}-camp{ad / 4:D4}";

    public long PriceMicros(int ad) => _priceMicros[ad];

    public static string PublisherId(int publisher) => $"pub{publisher + 1}";

    public static string BrowserAgent(int index) => s_browserAgents[index % s_browserAgents.Length];

    /// <summary>Draws an ad the way traffic does: a few hot, a long tail.</summary>
    public int DrawAd(Random random) => Draw(_adCumulative, random.NextDouble());

    /// <summary>The next <paramref name="count"/> clicks, with timestamps around <paramref name="nowMs"/>.</summary>
    public void Next(int count, long nowMs, List<LoadClick> into)
    {
        lock (_gate)
        {
            for (int i = 0; i < count; i++)
            {
                into.Add(NextOne(nowMs));
            }
        }
    }

    private LoadClick NextOne(long nowMs)
    {
        if (_burstLeft > 0)
        {
            _burstLeft--;
            return Remember(New(_burstAd, _burstUser, LoadClickKind.Burst, _burstTimestampMs));
        }

        int roll = _random.Next(10_000);
        if (roll < DuplicatePerTenThousand && _recentCount > 0)
        {
            _duplicates++;
            return _recent[_random.Next(Math.Min(_recentCount, _recent.Length))];
        }

        roll -= DuplicatePerTenThousand;
        int ad = Draw(_adCumulative, _random.NextDouble());
        if (roll < BotPerTenThousand)
        {
            return Remember(New(ad, PeopleCount + AbuserCount + _random.Next(BotCount), LoadClickKind.Bot, nowMs - _random.Next(3000)));
        }

        roll -= BotPerTenThousand;
        if (roll < LatePerTenThousand && _lateMsMax >= 60_000)
        {
            return Remember(New(ad, _random.Next(PeopleCount), LoadClickKind.Late, nowMs - _random.NextInt64(30_000, _lateMsMax)));
        }

        roll -= LatePerTenThousand;
        if (roll < MalformedPerTenThousand)
        {
            return New(ad, _random.Next(PeopleCount), LoadClickKind.Malformed, nowMs);
        }

        roll -= MalformedPerTenThousand;
        if (roll < BurstStartPerTenThousand)
        {
            // One abuser, one ad, one instant: 12 to 20 clicks land in one event-time minute.
            _burstAd = ad;
            _burstUser = PeopleCount + _random.Next(AbuserCount);
            _burstTimestampMs = nowMs;
            _burstLeft = _random.Next(12, 21) - 1;
            return Remember(New(_burstAd, _burstUser, LoadClickKind.Burst, _burstTimestampMs));
        }

        return Remember(New(ad, _random.Next(PeopleCount), LoadClickKind.Normal, nowMs - _random.Next(3000)));
    }

    private LoadClick New(int ad, int user, LoadClickKind kind, long timestampMs) => new()
    {
        Sequence = _nextSequence++,
        Ad = ad,
        Publisher = Draw(_publisherCumulative, _random.NextDouble()),
        User = user,
        Kind = kind,
        TimestampMs = timestampMs,
    };

    private LoadClick Remember(LoadClick click)
    {
        _recent[_recentCount++ % _recent.Length] = click;
        return click;
    }

    /// <summary>Writes <paramref name="clicks"/> as NDJSON; <paramref name="withPublisher"/> false for a publisher key (the server stamps it).</summary>
    public void WriteNdjson(List<LoadClick> clicks, bool withPublisher, ArrayBufferWriter<byte> body)
    {
        using var writer = new Utf8JsonWriter(body);
        foreach (LoadClick click in clicks)
        {
            writer.Reset(body);
            writer.WriteStartObject();
            writer.WriteString("click_id", $"{RunId}-{click.Sequence}");
            writer.WriteString("ad_id", AdId(click.Ad));
            writer.WriteString("campaign_id", CampaignId(click.Ad));
            if (click.Kind != LoadClickKind.Malformed)
            {
                writer.WriteString("advertiser_id", AdvertiserId(click.Ad));
            }

            if (withPublisher)
            {
                writer.WriteString("publisher_id", PublisherId(click.Publisher));
            }

            writer.WriteString("user_id", $"u{click.User}");
            writer.WriteString("ip", $"10.{(click.User >> 16) & 255}.{(click.User >> 8) & 255}.{click.User & 255}");
            writer.WriteString("country", s_countries[click.User % s_countries.Length]);
            writer.WriteString("device", s_devices[(click.User / 7) % s_devices.Length]);
            writer.WriteString("user_agent", click.Kind == LoadClickKind.Bot ? s_botAgents[click.User % s_botAgents.Length] : BrowserAgent(click.User));
            writer.WriteNumber("timestamp", click.TimestampMs);
            writer.WriteNumber("cost_micros", _priceMicros[click.Ad]);
            writer.WriteEndObject();
            writer.Flush();
            body.Write("\n"u8);
        }
    }

    /// <summary>Checks the user agents against the bot patterns the server is assumed to use; null when they agree.</summary>
    public static string? AgentsDisagreeWith(IReadOnlyList<string> botPatterns)
    {
        static bool IsBot(string agent, IReadOnlyList<string> patterns) =>
            patterns.Any(p => p.Length > 0 && agent.Contains(p, StringComparison.OrdinalIgnoreCase));
        string? browser = s_browserAgents.FirstOrDefault(a => IsBot(a, botPatterns));
        if (browser is not null)
        {
            return $"the browser user agent '{browser}' matches a bot pattern";
        }

        string? bot = s_botAgents.FirstOrDefault(a => !IsBot(a, botPatterns));
        return bot is null ? null : $"the bot user agent '{bot}' matches no bot pattern";
    }

    private static double[] ZipfCumulative(int count, double exponent)
    {
        var cumulative = new double[count];
        double sum = 0;
        for (int rank = 0; rank < count; rank++)
        {
            sum += 1.0 / Math.Pow(rank + 1, exponent);
            cumulative[rank] = sum;
        }

        for (int rank = 0; rank < count; rank++)
        {
            cumulative[rank] /= sum;
        }

        return cumulative;
    }

    private static int Draw(double[] cumulative, double uniform)
    {
        int index = Array.BinarySearch(cumulative, uniform);
        return Math.Min(index >= 0 ? index : ~index, cumulative.Length - 1);
    }
}

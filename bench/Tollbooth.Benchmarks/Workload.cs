using System.Text;
using System.Text.Json;
using Tollbooth.Core;

namespace Tollbooth.Benchmarks;

/// <summary>
/// A realistic click stream: ads by a skewed (Zipf-like) popularity, about 2% resent duplicates, 1% bot
/// user agents, timestamps mostly in order with some late ones. Seeded: the same seed gives the same stream.
/// </summary>
public sealed class Workload(int seed, int adCount = 100_000)
{
    private static readonly string[] s_devices = ["desktop", "mobile", "tablet", "ctv", "other"];
    private static readonly string[] s_countries = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "CA"];
    private readonly Random _random = new(seed);
    private long _next;

    public Click Next(long timestampMs)
    {
        long id = _random.Next(50) == 0 && _next > 0 ? _random.NextInt64(_next) : _next++;
        int ad = SkewedAd();
        return new Click
        {
            ClickId = "c" + id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            AdId = "ad" + ad,
            AdvertiserId = "adv" + (ad % 1000),
            CampaignId = "camp" + (ad % 5000),
            PublisherId = "pub" + _random.Next(50),
            UserId = "u" + _random.Next(1_000_000),
            Country = s_countries[_random.Next(s_countries.Length)],
            Device = (Device)(_random.Next(5) + 1),
            UserAgent = _random.Next(100) == 0 ? "Googlebot/2.1" : "Mozilla/5.0 (X11; Linux x86_64)",
            TimestampMs = timestampMs - (_random.Next(20) == 0 ? _random.Next(600_000) : _random.Next(2_000)),
            CostMicros = 100 + _random.Next(5_000),
        };
    }

    /// <summary>A request body of <paramref name="count"/> clicks as NDJSON or as a JSON array, for the HTTP API.</summary>
    public string Body(int count, long timestampMs, bool ndjson, string runId)
    {
        var text = new StringBuilder(count * 260);
        text.Append(ndjson ? "" : "[");
        for (int i = 0; i < count; i++)
        {
            Click click = Next(timestampMs);
            if (i > 0)
            {
                text.Append(ndjson ? "\n" : ",");
            }

            text.Append(JsonSerializer.Serialize(new
            {
                click_id = runId + click.ClickId,
                ad_id = click.AdId,
                advertiser_id = click.AdvertiserId,
                campaign_id = click.CampaignId,
                publisher_id = click.PublisherId,
                user_id = click.UserId,
                country = click.Country,
                device = s_devices[(int)click.Device - 1],
                user_agent = click.UserAgent,
                timestamp = click.TimestampMs,
                cost_micros = click.CostMicros,
            }));
        }

        return text.Append(ndjson ? "" : "]").ToString();
    }

    private int SkewedAd()
    {
        // 20% of clicks go to 10 hot ads, the rest spread with a long tail.
        double u = _random.NextDouble();
        return u < 0.2 ? _random.Next(10) : (int)(adCount * Math.Pow(_random.NextDouble(), 3));
    }
}

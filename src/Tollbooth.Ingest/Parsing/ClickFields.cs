using System.IO.Hashing;
using System.Net;
using System.Text;
using System.Text.Json;
using Tollbooth.Core;

namespace Tollbooth.Ingest.Parsing;

/// <summary>
/// The rules of API.md's click table, applied to one JSON object. The first problem of an item is
/// reported, with a stable code and a sentence that says what to send instead.
/// </summary>
internal sealed class ClickFields(IngestLimits limits, long nowMs, IpPseudonymizer ips, string? keyPublisherId)
{
    public (Click? Click, string? Code, string? Error) Read(JsonElement item)
    {
        if (!Text(item, "click_id", 128, out string? clickId) || (clickId is not null && !IsClickId(clickId)))
        {
            return Bad("invalid_click_id", "click_id must be 1 to 128 characters of letters, digits, '.', '_', ':' or '-'.");
        }

        if (!Text(item, "ad_id", 64, out string? adId))
        {
            return Bad("invalid_ad_id", "ad_id must be a string of 1 to 64 characters.");
        }

        if (adId is null)
        {
            return Bad("missing_ad_id", "ad_id is required: send the ad's id as a string of 1 to 64 characters.");
        }

        if (!Text(item, "campaign_id", 64, out string? campaignId))
        {
            return Bad("invalid_campaign_id", "campaign_id must be a string of 1 to 64 characters.");
        }

        if (!Text(item, "advertiser_id", 64, out string? advertiserId))
        {
            return Bad("invalid_advertiser_id", "advertiser_id must be a string of 1 to 64 characters.");
        }

        if (advertiserId is null)
        {
            return Bad("missing_advertiser_id", "advertiser_id is required: send the id of the ad's owner as a string of 1 to 64 characters.");
        }

        if (!Text(item, "publisher_id", 64, out string? publisherId))
        {
            return Bad("invalid_publisher_id", "publisher_id must be a string of 1 to 64 characters.");
        }

        if (keyPublisherId is not null && publisherId is not null && publisherId != keyPublisherId)
        {
            return Bad("publisher_mismatch", $"This key may only send clicks of publisher {keyPublisherId}: leave publisher_id out or send that one.");
        }

        return ReadRest(item, clickId, adId, campaignId ?? "", advertiserId, publisherId ?? keyPublisherId ?? "");
    }

    private (Click? Click, string? Code, string? Error) ReadRest(JsonElement item, string? clickId, string adId, string campaignId, string advertiserId, string publisherId)
    {
        if (!Text(item, "user_id", 128, out string? userId, allowEmpty: true))
        {
            return Bad("invalid_user_id", "user_id must be a string of at most 128 characters.");
        }

        if (!ReadIp(item, out IPAddress? ip))
        {
            return Bad("invalid_ip", "ip must be an IPv4 address such as 203.0.113.7 or an IPv6 address such as 2001:db8::1.");
        }

        if (!ReadCountry(item, out string country))
        {
            return Bad("invalid_country", "country must be an ISO 3166-1 alpha-2 code such as US.");
        }

        if (!ReadDevice(item, out Device device))
        {
            return Bad("invalid_device", "device must be one of desktop, mobile, tablet, ctv or other.");
        }

        if (!Text(item, "user_agent", 512, out string? userAgent, allowEmpty: true, allowControl: false))
        {
            return Bad("invalid_user_agent", "user_agent must be a string of at most 512 characters.");
        }

        if (!ReadTimestamp(item, out long timestampMs))
        {
            return Bad("invalid_timestamp", "timestamp must be an RFC 3339 time with an offset, such as 2026-11-22T10:04:00Z, or integer epoch milliseconds.");
        }

        if (timestampMs > nowMs + limits.FutureSkewMsMax)
        {
            return Bad("timestamp_in_future", $"timestamp is more than {limits.FutureSkewMsMax / 1000} seconds ahead of the server clock: check the sender's clock.");
        }

        if (!ReadCost(item, out long costMicros))
        {
            return Bad("invalid_cost_micros", "cost_micros must be a whole number of micro-units, 0 or more.");
        }

        if (!Text(item, "token", 2048, out string? token))
        {
            return Bad("invalid_token", "token must be a string of at most 2048 characters.");
        }

        string canonicalIp = ip is null ? "" : IpPseudonymizer.Canonical(ip);
        var click = new Click
        {
            ClickId = clickId ?? DeriveClickId(adId, userId ?? "", canonicalIp, timestampMs),
            AdId = adId,
            AdvertiserId = advertiserId,
            CampaignId = campaignId,
            PublisherId = publisherId,
            UserId = userId ?? "",
            IpHash = ip is null ? "" : ips.Hash(ip),
            Country = country,
            Device = device,
            UserAgent = userAgent ?? "",
            TimestampMs = timestampMs,
            ReceivedMs = nowMs,
            CostMicros = costMicros,
            Token = token ?? "",
        };
        return (click, null, null);
    }

    /// <summary>"d-" + XxHash128 of ad_id, user_id, canonical ip and timestamp, 0-separated: a resend gets the same id.</summary>
    public static string DeriveClickId(string adId, string userId, string canonicalIp, long timestampMs)
    {
        string material = string.Concat(adId, "\0", userId, "\0", canonicalIp, "\0", timestampMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return "d-" + Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes(material)));
    }

    private static (Click?, string?, string?) Bad(string code, string error) => (null, code, error);

    /// <summary>False when present but not a valid string; <paramref name="value"/> null when absent (or empty and allowed).</summary>
    private static bool Text(JsonElement item, string name, int lengthMax, out string? value, bool allowEmpty = false, bool allowControl = false)
    {
        value = null;
        if (!item.TryGetProperty(name, out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        if (!TryGetString(element, out string text))
        {
            return false;
        }

        if (text.Length == 0)
        {
            return allowEmpty;
        }

        if (text.Length > lengthMax || (!allowControl && text.AsSpan().IndexOfAnyInRange('\u0000', '\u001f') >= 0) || text.Contains('\u007f'))
        {
            return false;
        }

        value = text;
        return true;
    }

    private static bool IsClickId(string id)
    {
        foreach (char c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or ':' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool ReadIp(JsonElement item, out IPAddress? ip)
    {
        ip = null;
        if (!Text(item, "ip", 64, out string? text))
        {
            return false;
        }

        if (text is null)
        {
            return true;
        }

        bool looksRight = text.Contains(':') || (text.Split('.').Length == 4 && text.All(c => char.IsAsciiDigit(c) || c == '.'));
        return looksRight && IPAddress.TryParse(text, out ip);
    }

    private static bool ReadCountry(JsonElement item, out string country)
    {
        country = "";
        if (!Text(item, "country", 2, out string? text))
        {
            return false;
        }

        return text is null || Countries.TryNormalize(text, out country);
    }

    private static bool ReadDevice(JsonElement item, out Device device)
    {
        device = Device.Unknown;
        if (!Text(item, "device", 16, out string? text))
        {
            return false;
        }

        return text is null || DeviceNames.TryParse(text, out device);
    }

    private bool ReadTimestamp(JsonElement item, out long timestampMs)
    {
        timestampMs = nowMs;
        if (!item.TryGetProperty("timestamp", out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (element.ValueKind == JsonValueKind.Number)
        {
            return element.TryGetInt64(out timestampMs) && timestampMs >= 0 && timestampMs <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();
        }

        return element.ValueKind == JsonValueKind.String && TryGetString(element, out string stamp) && TimeText.TryParse(stamp, out timestampMs) && timestampMs >= 0 && !IsDigits(stamp);
    }

    /// <summary>
    /// A JSON escape can spell text that is not valid UTF-16 (a lone surrogate such as \ud800), which GetString
    /// refuses with an exception: for a click that is an invalid field, not a server error.
    /// </summary>
    private static bool TryGetString(JsonElement element, out string text)
    {
        try
        {
            text = element.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            text = "";
            return false;
        }
    }

    private static bool ReadCost(JsonElement item, out long costMicros)
    {
        costMicros = 0;
        if (!item.TryGetProperty("cost_micros", out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out costMicros) && costMicros >= 0;
    }

    private static bool IsDigits(string text) => text.Length > 0 && text.All(char.IsAsciiDigit);
}

using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json;
using Tollbooth.Core;

namespace Tollbooth.Ingest.Parsing;

/// <summary>The rules of API.md's click table over UTF-8 spans, in <see cref="ClickFields"/>'s order and with its sentences.</summary>
public sealed partial class ClickRecordParser
{
    private static readonly SearchValues<byte> s_clickIdBytes = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-"u8);
    private static readonly SearchValues<char> s_digitsAndDot = SearchValues.Create("0123456789.");

    private static readonly (string Code, string Error) s_badName = ("invalid_json", "This item has a field name that is not valid text (a lone \\u surrogate escape): send each click as a JSON object with plain field names.");
    private static readonly (string Code, string Error) s_invalidClickId = ("invalid_click_id", "click_id must be 1 to 128 characters of letters, digits, '.', '_', ':' or '-'.");
    private static readonly (string Code, string Error) s_invalidAdId = ("invalid_ad_id", "ad_id must be a string of 1 to 64 characters.");
    private static readonly (string Code, string Error) s_missingAdId = ("missing_ad_id", "ad_id is required: send the ad's id as a string of 1 to 64 characters.");
    private static readonly (string Code, string Error) s_invalidCampaignId = ("invalid_campaign_id", "campaign_id must be a string of 1 to 64 characters.");
    private static readonly (string Code, string Error) s_invalidAdvertiserId = ("invalid_advertiser_id", "advertiser_id must be a string of 1 to 64 characters.");
    private static readonly (string Code, string Error) s_missingAdvertiserId = ("missing_advertiser_id", "advertiser_id is required: send the id of the ad's owner as a string of 1 to 64 characters.");
    private static readonly (string Code, string Error) s_invalidPublisherId = ("invalid_publisher_id", "publisher_id must be a string of 1 to 64 characters.");
    private static readonly (string Code, string Error) s_invalidUserId = ("invalid_user_id", "user_id must be a string of at most 128 characters.");
    private static readonly (string Code, string Error) s_invalidIp = ("invalid_ip", "ip must be an IPv4 address such as 203.0.113.7 or an IPv6 address such as 2001:db8::1.");
    private static readonly (string Code, string Error) s_invalidCountry = ("invalid_country", "country must be an ISO 3166-1 alpha-2 code such as US.");
    private static readonly (string Code, string Error) s_invalidDevice = ("invalid_device", "device must be one of desktop, mobile, tablet, ctv or other.");
    private static readonly (string Code, string Error) s_invalidUserAgent = ("invalid_user_agent", "user_agent must be a string of at most 512 characters.");
    private static readonly (string Code, string Error) s_invalidTimestamp = ("invalid_timestamp", "timestamp must be an RFC 3339 time with an offset, such as 2026-11-22T10:04:00Z, or integer epoch milliseconds.");
    private static readonly (string Code, string Error) s_invalidCostMicros = ("invalid_cost_micros", "cost_micros must be a whole number of micro-units, 0 or more.");
    private static readonly (string Code, string Error) s_invalidToken = ("invalid_token", "token must be a string of at most 2048 characters.");

    /// <summary>What a field lookup found, as <see cref="ClickFields"/> sees it.</summary>
    private enum FieldState
    {
        /// <summary>Not there, null, or an empty string where empty is allowed.</summary>
        Absent,

        /// <summary>A valid value.</summary>
        Present,

        /// <summary>There, but not a valid value: the item is rejected with the field's code.</summary>
        Invalid,

        /// <summary>Looking the field up would have thrown (a lone surrogate escape in a name): the item is invalid JSON.</summary>
        BadName,
    }

    /// <summary>One click's values as UTF-8, in the body, the request's scratch space or the key's publisher bytes.</summary>
    private ref struct Values
    {
        public ReadOnlySpan<byte> ClickId;
        public ReadOnlySpan<byte> AdId;
        public ReadOnlySpan<byte> CampaignId;
        public ReadOnlySpan<byte> AdvertiserId;
        public ReadOnlySpan<byte> PublisherId;
        public bool PublisherGiven;
        public ReadOnlySpan<byte> UserId;
        public ReadOnlySpan<byte> IpText;
        public ReadOnlySpan<byte> IpHash;
        public ReadOnlySpan<byte> Country;
        public Device Device;
        public ReadOnlySpan<byte> UserAgent;
        public long TimestampMs;
        public long CostMicros;
        public ReadOnlySpan<byte> Token;
    }

    /// <summary>The object being judged, and how much of the scratch space its unescaped values took.</summary>
    private ref struct Item
    {
        public ReadOnlySpan<byte> Document;
        public Request Request;
        public int ScratchUsed;
    }

    private void Take(ReadOnlySpan<byte> document, Request request, int index)
    {
        var item = new Item { Document = document, Request = request };
        var values = default(Values);
        if (Read(ref item, ref values) is { } rejected)
        {
            request.Records.Reject(index, rejected.Error, rejected.Code);
        }
        else
        {
            Write(ref values, request);
        }
    }

    private (string Code, string Error)? Read(scoped ref Item item, ref Values values)
    {
        FieldState state = Text(ref item, Fields.ClickId, 128, out values.ClickId);
        if (state == FieldState.Invalid || (state == FieldState.Present && values.ClickId.ContainsAnyExcept(s_clickIdBytes)))
        {
            return s_invalidClickId;
        }

        if (state == FieldState.BadName || (state = Text(ref item, Fields.AdId, IdLengthMax, out values.AdId)) == FieldState.BadName)
        {
            return s_badName;
        }

        if (state != FieldState.Present)
        {
            return state == FieldState.Invalid ? s_invalidAdId : s_missingAdId;
        }

        if ((state = Text(ref item, Fields.CampaignId, 64, out values.CampaignId)) != FieldState.Absent && state != FieldState.Present)
        {
            return state == FieldState.BadName ? s_badName : s_invalidCampaignId;
        }

        if ((state = Text(ref item, Fields.AdvertiserId, IdLengthMax, out values.AdvertiserId)) != FieldState.Present)
        {
            return state == FieldState.BadName ? s_badName : state == FieldState.Invalid ? s_invalidAdvertiserId : s_missingAdvertiserId;
        }

        if ((state = Text(ref item, Fields.PublisherId, 64, out values.PublisherId)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidPublisherId;
        }

        values.PublisherGiven = state == FieldState.Present;
        string? key = item.Request.KeyPublisherId;
        if (key is not null && values.PublisherGiven && !SameText(values.PublisherId, key))
        {
            return ("publisher_mismatch", $"This key may only send clicks of publisher {key}: leave publisher_id out or send that one.");
        }

        if (!values.PublisherGiven)
        {
            values.PublisherId = item.Request.KeyPublisherUtf8;
        }

        return ReadRest(ref item, ref values);
    }

    private (string Code, string Error)? ReadRest(scoped ref Item item, ref Values values)
    {
        FieldState state;
        if ((state = Text(ref item, Fields.UserId, 128, out values.UserId, allowEmpty: true)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidUserId;
        }

        if ((state = ReadIp(ref item, ref values)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidIp;
        }

        if ((state = ReadCountry(ref item, ref values)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidCountry;
        }

        if ((state = ReadDevice(ref item, out values.Device)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidDevice;
        }

        if ((state = Text(ref item, Fields.UserAgent, 512, out values.UserAgent, allowEmpty: true)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidUserAgent;
        }

        if ((state = ReadTimestamp(ref item, out values.TimestampMs)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidTimestamp;
        }

        if (values.TimestampMs > item.Request.NowMs + limits.FutureSkewMsMax)
        {
            return ("timestamp_in_future", $"timestamp is more than {limits.FutureSkewMsMax / 1000} seconds ahead of the server clock: check the sender's clock.");
        }

        if ((state = ReadCost(ref item, out values.CostMicros)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidCostMicros;
        }

        if ((state = Text(ref item, Fields.Token, 2048, out values.Token)) is FieldState.BadName or FieldState.Invalid)
        {
            return state == FieldState.BadName ? s_badName : s_invalidToken;
        }

        return null;
    }

    /// <summary>
    /// The item's last property named <paramref name="field"/>: <see cref="FieldState.BadName"/> when a name that is not
    /// valid text stands in the way, <see cref="FieldState.Absent"/> when there is none or it is null, else
    /// <see cref="FieldState.Present"/> with the property.
    /// </summary>
    private static FieldState Locate(scoped ref Item item, int field, out Property property)
    {
        property = default;
        int found = Find(item.Document, item.Request, field);
        if (found == BadName)
        {
            return FieldState.BadName;
        }

        if (found == NotFound || item.Request.Properties[found].Kind == JsonTokenType.Null)
        {
            return FieldState.Absent;
        }

        property = item.Request.Properties[found];
        return FieldState.Present;
    }

    /// <summary>
    /// ClickFields.Text: a string of 1 to <paramref name="lengthMax"/> UTF-16 characters (0 when
    /// <paramref name="allowEmpty"/>, then absent) without control characters or U+007F; a lone surrogate escape in
    /// the value makes it invalid, as GetString throws for it.
    /// </summary>
    private static FieldState Text(scoped ref Item item, int field, int lengthMax, out ReadOnlySpan<byte> value, bool allowEmpty = false)
    {
        value = default;
        FieldState located = Locate(ref item, field, out Property property);
        if (located != FieldState.Present)
        {
            return located;
        }

        if (property.Kind != JsonTokenType.String)
        {
            return FieldState.Invalid;
        }

        ReadOnlySpan<byte> text = item.Document.Slice(property.ValueStart, property.ValueLength);
        if (property.ValueEscaped)
        {
            // Three UTF-8 bytes per allowed character is as long as a valid value can be: longer is invalid anyway.
            Span<byte> destination = item.Request.Scratch.AsSpan(item.ScratchUsed, Math.Min(3 * lengthMax, ScratchLayout.TextBytes - item.ScratchUsed));
            if (JsonEscapes.Unescape(text, destination, out int written) != UnescapeResult.Done)
            {
                return FieldState.Invalid;
            }

            text = destination[..written];
            item.ScratchUsed += written;
        }

        if (text.IsEmpty)
        {
            return allowEmpty ? FieldState.Absent : FieldState.Invalid;
        }

        if (text.Length > 3 * lengthMax || Encoding.UTF8.GetCharCount(text) > lengthMax || text.IndexOfAnyInRange((byte)0, (byte)0x1f) >= 0 || text.Contains((byte)0x7f))
        {
            return FieldState.Invalid;
        }

        value = text;
        return FieldState.Present;
    }

    private FieldState ReadIp(scoped ref Item item, ref Values values)
    {
        FieldState state = Text(ref item, Fields.Ip, 64, out ReadOnlySpan<byte> text);
        if (state != FieldState.Present)
        {
            return state;
        }

        Span<char> chars = stackalloc char[64];
        chars = chars[..Encoding.UTF8.GetChars(text, chars)];
        bool looksRight = chars.Contains(':') || (chars.Count('.') == 3 && !chars.ContainsAnyExcept(s_digitsAndDot));
        if (!looksRight)
        {
            return FieldState.Invalid;
        }

        Span<byte> hash = item.Request.Scratch.AsSpan(ScratchLayout.IpHash, IpPseudonymizer.HashLength);
        if (IsCanonicalIpv4(text))
        {
            // The common case needs no IPAddress: such text parses to itself and is already canonical.
            values.IpText = text;
        }
        else
        {
            if (!IPAddress.TryParse(chars, out IPAddress? address))
            {
                return FieldState.Invalid;
            }

            Span<byte> canonical = item.Request.Scratch.AsSpan(ScratchLayout.IpText, ScratchLayout.IpTextBytes);
            values.IpText = canonical[..Encoding.UTF8.GetBytes(IpPseudonymizer.Canonical(address), canonical)];
        }

        item.Request.IpHasher.HashCanonical(values.IpText, hash);
        values.IpHash = hash;
        return FieldState.Present;
    }

    /// <summary>Four dot-separated decimal numbers of 0 to 255 without leading zeros: IPv4 text that is its own canonical form.</summary>
    private static bool IsCanonicalIpv4(ReadOnlySpan<byte> text)
    {
        for (int part = 0; part < 4; part++)
        {
            int digits = 0;
            int value = 0;
            while (digits < text.Length && digits < 4 && char.IsAsciiDigit((char)text[digits]))
            {
                value = (value * 10) + (text[digits] - '0');
                digits++;
            }

            if (digits is 0 or 4 || value > 255 || (digits > 1 && text[0] == (byte)'0'))
            {
                return false;
            }

            text = text[digits..];
            if (part < 3)
            {
                if (text.IsEmpty || text[0] != (byte)'.')
                {
                    return false;
                }

                text = text[1..];
            }
        }

        return text.IsEmpty;
    }

    private static FieldState ReadCountry(scoped ref Item item, ref Values values)
    {
        FieldState state = Text(ref item, Fields.Country, 2, out ReadOnlySpan<byte> text);
        if (state != FieldState.Present)
        {
            return state;
        }

        Span<byte> country = item.Request.Scratch.AsSpan(ScratchLayout.Country, 2);
        values.Country = country;
        return Countries.TryNormalize(text, country) ? FieldState.Present : FieldState.Invalid;
    }

    private static FieldState ReadDevice(scoped ref Item item, out Device device)
    {
        device = Device.Unknown;
        FieldState state = Text(ref item, Fields.Device, 16, out ReadOnlySpan<byte> text);
        if (state != FieldState.Present)
        {
            return state;
        }

        device = text switch
        {
            _ when text.SequenceEqual("desktop"u8) => Device.Desktop,
            _ when text.SequenceEqual("mobile"u8) => Device.Mobile,
            _ when text.SequenceEqual("tablet"u8) => Device.Tablet,
            _ when text.SequenceEqual("ctv"u8) => Device.Ctv,
            _ when text.SequenceEqual("other"u8) => Device.Other,
            _ => Device.Unknown,
        };
        return device == Device.Unknown ? FieldState.Invalid : FieldState.Present;
    }

    private static FieldState ReadTimestamp(scoped ref Item item, out long timestampMs)
    {
        timestampMs = item.Request.NowMs;
        FieldState located = Locate(ref item, Fields.Timestamp, out Property property);
        if (located != FieldState.Present)
        {
            return located;
        }

        ReadOnlySpan<byte> raw = item.Document.Slice(property.ValueStart, property.ValueLength);
        bool valid = property.Kind switch
        {
            JsonTokenType.Number => TryGetInt64(raw, out timestampMs) && timestampMs >= 0 && timestampMs <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds(),
            JsonTokenType.String => TryReadTime(raw, property.ValueEscaped, out timestampMs),
            _ => false,
        };
        return valid ? FieldState.Present : FieldState.Invalid;
    }

    // A string timestamp has no length limit in the rules, so long ones are read through pooled buffers.
    private static bool TryReadTime(ReadOnlySpan<byte> raw, bool escaped, out long timestampMs)
    {
        timestampMs = 0;
        byte[]? rentedBytes = null;
        char[]? rentedChars = null;
        try
        {
            scoped ReadOnlySpan<byte> text = raw;
            if (escaped)
            {
                Span<byte> unescaped = raw.Length <= 128 ? stackalloc byte[128] : (rentedBytes = ArrayPool<byte>.Shared.Rent(raw.Length));
                if (JsonEscapes.Unescape(raw, unescaped, out int written) != UnescapeResult.Done)
                {
                    return false;
                }

                text = unescaped[..written];
            }

            Span<char> chars = text.Length <= 128 ? stackalloc char[128] : (rentedChars = ArrayPool<char>.Shared.Rent(text.Length));
            chars = chars[..Encoding.UTF8.GetChars(text, chars)];
            return TimeText.TryParse(chars, out timestampMs) && timestampMs >= 0 && chars.ContainsAnyExceptInRange('0', '9');
        }
        finally
        {
            if (rentedBytes is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedBytes);
            }

            if (rentedChars is not null)
            {
                ArrayPool<char>.Shared.Return(rentedChars);
            }
        }
    }

    private static FieldState ReadCost(scoped ref Item item, out long costMicros)
    {
        costMicros = 0;
        FieldState located = Locate(ref item, Fields.CostMicros, out Property property);
        if (located != FieldState.Present)
        {
            return located;
        }

        return property.Kind == JsonTokenType.Number && TryGetInt64(item.Document.Slice(property.ValueStart, property.ValueLength), out costMicros) && costMicros >= 0
            ? FieldState.Present
            : FieldState.Invalid;
    }

    // JsonElement.TryGetInt64: Utf8Parser over the number's text, which must be read whole (no fraction or exponent).
    private static bool TryGetInt64(ReadOnlySpan<byte> number, out long value) =>
        Utf8Parser.TryParse(number, out value, out int consumed) && consumed == number.Length;

    // publisher_id against the key's publisher, compared as UTF-16 like the string comparison it replaces.
    private static bool SameText(ReadOnlySpan<byte> utf8, string text)
    {
        Span<char> chars = stackalloc char[64];
        return chars[..Encoding.UTF8.GetChars(utf8, chars)].SequenceEqual(text);
    }
}

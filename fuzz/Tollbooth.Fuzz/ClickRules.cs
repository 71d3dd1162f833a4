using System.Text.Json;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;

namespace Tollbooth.Fuzz;

/// <summary>
/// API.md's click table, restated independently of the parser, as what must hold of every click the parser
/// accepted; plus the log round trip (encode, decode, encode gives the same bytes) and the wire round trip
/// (the click written back as a JSON object parses to the same click).
/// </summary>
internal static class ClickRules
{
    public static void Check(Click click, string where)
    {
        FuzzContractException.Require(IsClickId(click.ClickId), $"{where}: accepted click id '{click.ClickId}' breaks the click_id rule.");
        RequireText(click.AdId, 1, 64, "ad_id", where);
        RequireText(click.AdvertiserId, 1, 64, "advertiser_id", where);
        RequireText(click.CampaignId, 0, 64, "campaign_id", where);
        RequireText(click.PublisherId, 0, 64, "publisher_id", where);
        RequireText(click.UserId, 0, 128, "user_id", where);
        RequireText(click.UserAgent, 0, 512, "user_agent", where);
        RequireText(click.Token, 0, 2048, "token", where);
        FuzzContractException.Require(click.IpHash.Length == 0 || IsLowerHex(click.IpHash, 32), $"{where}: ip hash '{click.IpHash}' is not 32 lower-case hex digits.");
        FuzzContractException.Require(
            click.Country.Length == 0 || (click.Country.Length == 2 && char.IsAsciiLetterUpper(click.Country[0]) && char.IsAsciiLetterUpper(click.Country[1])),
            $"{where}: country '{click.Country}' is not two upper-case letters.");
        FuzzContractException.Require(Enum.IsDefined(click.Device), $"{where}: device {(int)click.Device} is not a device.");
        FuzzContractException.Require(click.TimestampMs >= 0 && click.TimestampMs <= Fixtures.NowMs + Fixtures.Limits.FutureSkewMsMax, $"{where}: timestamp {click.TimestampMs} is outside [0, now + skew].");
        FuzzContractException.Require(click.ReceivedMs == Fixtures.NowMs, $"{where}: received time {click.ReceivedMs} is not the server clock.");
        FuzzContractException.Require(click.CostMicros >= 0, $"{where}: cost {click.CostMicros} is negative.");
        FuzzContractException.Require(click.Signature == ClickSignature.Unsigned && !click.SignedRequired, $"{where}: the parser judged a signature, which is ingest's job.");
        CheckLogRoundTrip(click, where);
    }

    /// <summary>The click as the log keeps it: decoding its record and encoding again gives the same bytes and fields.</summary>
    public static void CheckLogRoundTrip(Click click, string where)
    {
        byte[] record = ClickCodec.Encode(click);
        Click decoded = ClickCodec.Decode(record);
        FuzzContractException.Require(ClickCodec.Encode(decoded).AsSpan().SequenceEqual(record), $"{where}: the log record of click '{click.ClickId}' does not encode again to the same bytes.");
        FuzzContractException.Require(Describe(decoded) == Describe(click), $"{where}: click '{click.ClickId}' decodes from the log as {Describe(decoded)}, not {Describe(click)}.");
    }

    /// <summary>Writes the accepted click back as a request object: it must parse to the same click (the IP aside: only its hash is kept).</summary>
    public static void CheckWireRoundTrip(Click click, string where)
    {
        byte[] body = Render(click);
        ParseOutcome again = Fixtures.Parser.Parse(body, "application/json", null);
        if (again.BodyError is not null || again.Rejections.Count != 0 || again.Accepted.Count != 1)
        {
            throw new FuzzContractException($"{where}: accepted click '{click.ClickId}' written back as {System.Text.Encoding.UTF8.GetString(body)} is not accepted: {ParserTarget.Describe(again)}");
        }

        string expected = Describe(click, withIp: false);
        string actual = Describe(again.Accepted[0].Click, withIp: false);
        FuzzContractException.Require(expected == actual, $"{where}: accepted click written back parses to {actual}, not {expected}.");
    }

    public static string Describe(Click click, bool withIp = true) =>
        JsonSerializer.Serialize(new object[]
        {
            click.ClickId, click.AdId, click.AdvertiserId, click.CampaignId, click.PublisherId, click.UserId,
            withIp ? click.IpHash : "", click.Country, (int)click.Device, click.UserAgent, click.TimestampMs, click.ReceivedMs,
            click.CostMicros, click.Token, (int)click.Signature, click.SignedRequired,
        });

    public static bool IsClickId(string id)
    {
        if (id.Length is 0 or > 128)
        {
            return false;
        }

        foreach (char c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or ':' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] Render(Click click)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("click_id", click.ClickId);
            json.WriteString("ad_id", click.AdId);
            json.WriteString("advertiser_id", click.AdvertiserId);
            WriteUnlessEmpty(json, "campaign_id", click.CampaignId);
            WriteUnlessEmpty(json, "publisher_id", click.PublisherId);
            WriteUnlessEmpty(json, "user_id", click.UserId);
            WriteUnlessEmpty(json, "country", click.Country);
            WriteUnlessEmpty(json, "device", DeviceNames.ToWire(click.Device));
            WriteUnlessEmpty(json, "user_agent", click.UserAgent);
            WriteUnlessEmpty(json, "token", click.Token);
            json.WriteNumber("timestamp", click.TimestampMs);
            json.WriteNumber("cost_micros", click.CostMicros);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteUnlessEmpty(Utf8JsonWriter json, string name, string value)
    {
        if (value.Length > 0)
        {
            json.WriteString(name, value);
        }
    }

    private static void RequireText(string value, int lengthMin, int lengthMax, string field, string where)
    {
        FuzzContractException.Require(value.Length >= lengthMin && value.Length <= lengthMax, $"{where}: accepted {field} has {value.Length} characters, outside {lengthMin}..{lengthMax}.");
        FuzzContractException.Require(value.AsSpan().IndexOfAnyInRange('\u0000', '\u001f') < 0 && !value.Contains('\u007f'), $"{where}: accepted {field} holds a control character.");
        FuzzContractException.Require(!HasLoneSurrogate(value), $"{where}: accepted {field} holds a lone surrogate, which cannot be stored as UTF-8.");
    }

    private static bool HasLoneSurrogate(string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsLowerHex(string text, int length)
    {
        if (text.Length != length)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}

using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;

namespace Tollbooth.Fuzz;

/// <summary>
/// The click table's field rules, fuzzed through well-formed JSON so the fuzzer spends its time on field
/// values rather than on JSON syntax. The input is a header byte (odd: the API key is bound to a publisher)
/// and then one segment per field, split by 0xFF (never part of UTF-8); a segment's first byte picks how the
/// field is sent: absent, a string, a number, null, or raw bytes between quotes (escapes included). Contract:
/// everything the parser target promises, and a verdict that agrees with what was sent: an accepted click
/// holds the values sent (or their documented defaults and normal forms), and a rejection names a field
/// that was sent wrongly.
/// </summary>
public static class ValidatorTarget
{
    private static readonly string[] s_fields =
    [
        "click_id", "ad_id", "advertiser_id", "campaign_id", "publisher_id", "user_id", "ip", "country", "device",
        "user_agent", "timestamp", "cost_micros", "token",
    ];

    private enum Kind
    {
        Absent,
        Text,
        Number,
        Null,
        Raw,
    }

    private readonly record struct Sent(Kind Kind, string Text, long Number);

    public static FuzzResult Run(ReadOnlySpan<byte> input)
    {
        string? keyPublisherId = input.Length > 0 && (input[0] & 1) == 1 ? Fixtures.KeyPublisherId : null;
        Dictionary<string, Sent> sent = Read(input.Length > 0 ? input[1..] : input);
        byte[] body = Render(sent);
        FuzzResult result = ParserTarget.Check(body, ndjson: false, keyPublisherId);
        if (sent.Values.Any(s => s.Kind == Kind.Raw))
        {
            return result; // Raw bytes may be anything: the parser target's contract is all that can be said.
        }

        ParseOutcome outcome = Fixtures.Parser.Parse(body, "application/json", keyPublisherId);
        FuzzContractException.Require(outcome.BodyError is null && outcome.Accepted.Count + outcome.Rejections.Count == 1, "A well-formed click object did not get exactly one verdict.");
        if (outcome.Accepted.Count == 1)
        {
            CheckAccepted(outcome.Accepted[0].Click, sent, keyPublisherId);
        }
        else
        {
            CheckRejected(outcome.Rejections[0].Code, sent, keyPublisherId);
        }

        return result;
    }

    private static Dictionary<string, Sent> Read(ReadOnlySpan<byte> input)
    {
        var sent = new Dictionary<string, Sent>(StringComparer.Ordinal);
        int field = 0;
        foreach (Range range in input.Split((byte)0xFF))
        {
            if (field == s_fields.Length)
            {
                break;
            }

            ReadOnlySpan<byte> segment = input[range];
            Kind kind = segment.Length == 0 ? Kind.Absent : (Kind)(segment[0] % 5);
            ReadOnlySpan<byte> value = segment.Length == 0 ? segment : segment[1..];
            long number = value.Length >= 8 ? BinaryPrimitives.ReadInt64LittleEndian(value) : SmallNumber(value);
            string text = kind == Kind.Raw ? Encoding.Latin1.GetString(value) : Encoding.UTF8.GetString(value);
            sent[s_fields[field++]] = new Sent(kind, text, number);
        }

        return sent;
    }

    // Short segments give small numbers, so timestamps near the server clock and small costs are easy to reach.
    private static long SmallNumber(ReadOnlySpan<byte> value)
    {
        long number = 0;
        foreach (byte b in value)
        {
            number = (number << 8) | b;
        }

        return value.Length > 0 && value[0] >= 0x80 ? Fixtures.NowMs - number : number;
    }

    private static byte[] Render(Dictionary<string, Sent> sent)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            json.WriteStartObject();
            foreach ((string name, Sent value) in sent)
            {
                switch (value.Kind)
                {
                    case Kind.Text:
                        json.WriteString(name, value.Text);
                        break;
                    case Kind.Number:
                        json.WriteNumber(name, value.Number);
                        break;
                    case Kind.Null:
                        json.WriteNull(name);
                        break;
                    case Kind.Raw:
                        json.WritePropertyName(name);
                        json.WriteRawValue(Encoding.Latin1.GetBytes("\"" + value.Text + "\""), skipInputValidation: true);
                        break;
                }
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void CheckAccepted(Click click, Dictionary<string, Sent> sent, string? keyPublisherId)
    {
        foreach ((string name, Sent value) in sent)
        {
            FuzzContractException.Require(value.Kind != Kind.Number || name is "timestamp" or "cost_micros", $"A click with {name} sent as a number was accepted.");
            FuzzContractException.Require(value.Kind != Kind.Text || name != "cost_micros", "A click with cost_micros sent as a string was accepted.");
        }

        RequireSame(click.AdId, TextOf(sent, "ad_id") ?? "", "ad_id");
        RequireSame(click.AdvertiserId, TextOf(sent, "advertiser_id") ?? "", "advertiser_id");
        RequireSame(click.CampaignId, TextOf(sent, "campaign_id") ?? "", "campaign_id");
        RequireSame(click.PublisherId, TextOf(sent, "publisher_id") ?? keyPublisherId ?? "", "publisher_id");
        RequireSame(click.UserId, TextOf(sent, "user_id") ?? "", "user_id");
        RequireSame(click.UserAgent, TextOf(sent, "user_agent") ?? "", "user_agent");
        RequireSame(click.Token, TextOf(sent, "token") ?? "", "token");
        string? clickId = TextOf(sent, "click_id");
        FuzzContractException.Require(clickId is null ? click.ClickId.StartsWith("d-", StringComparison.Ordinal) : click.ClickId == clickId, $"click_id '{clickId}' was taken as '{click.ClickId}'.");
        string? country = TextOf(sent, "country");
        FuzzContractException.Require(
            country is null ? click.Country.Length == 0 : click.Country == country.ToUpperInvariant() || (click.Country == Countries.Unknown && country.All(char.IsAsciiLetter)),
            $"country '{country}' was taken as '{click.Country}'.");
        string? device = TextOf(sent, "device");
        FuzzContractException.Require(DeviceNames.ToWire(click.Device) == (device ?? ""), $"device '{device}' was taken as {click.Device}.");
        FuzzContractException.Require((TextOf(sent, "ip") is null) == (click.IpHash.Length == 0), "An ip was sent but no hash kept, or the reverse.");
        Sent timestamp = sent.GetValueOrDefault("timestamp");
        long expectedMs = timestamp.Kind switch
        {
            Kind.Number => timestamp.Number,
            Kind.Text => TimeText.TryParse(timestamp.Text, out long parsed) ? parsed : -1,
            _ => Fixtures.NowMs,
        };
        FuzzContractException.Require(click.TimestampMs == expectedMs, $"timestamp sent as {timestamp} was taken as {click.TimestampMs}.");
        Sent cost = sent.GetValueOrDefault("cost_micros");
        FuzzContractException.Require(click.CostMicros == (cost.Kind == Kind.Number ? cost.Number : 0), $"cost_micros sent as {cost} was taken as {click.CostMicros}.");
    }

    private static void CheckRejected(string code, Dictionary<string, Sent> sent, string? keyPublisherId)
    {
        bool Present(string name) => sent.TryGetValue(name, out Sent value) && value.Kind is Kind.Text or Kind.Number;
        switch (code)
        {
            case "missing_ad_id":
            case "missing_advertiser_id":
                FuzzContractException.Require(!Present(code["missing_".Length..]), $"Rejected as {code}, but {code["missing_".Length..]} was sent.");
                break;
            case "publisher_mismatch":
                FuzzContractException.Require(keyPublisherId is not null && TextOf(sent, "publisher_id") is { } publisher && publisher != keyPublisherId, "Rejected as publisher_mismatch, but the publisher matches the key or the key has none.");
                break;
            case "timestamp_in_future":
                FuzzContractException.Require(Present("timestamp"), "Rejected as timestamp_in_future, but no timestamp was sent.");
                break;
            default:
                string field = code.StartsWith("invalid_", StringComparison.Ordinal) ? code["invalid_".Length..] : "";
                FuzzContractException.Require(Present(field), $"Rejected as {code}, but no {field} was sent.");
                break;
        }
    }

    private static string? TextOf(Dictionary<string, Sent> sent, string name) =>
        sent.TryGetValue(name, out Sent value) && value.Kind == Kind.Text && (value.Text.Length > 0 || name is "user_id" or "user_agent") ? value.Text : null;

    private static void RequireSame(string taken, string sent, string field) =>
        FuzzContractException.Require(taken == sent, $"{field} '{sent}' was taken as '{taken}'.");
}

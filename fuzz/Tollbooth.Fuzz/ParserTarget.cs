using System.Text;
using System.Text.Json;
using Tollbooth.Ingest.Parsing;

namespace Tollbooth.Fuzz;

/// <summary>
/// The click body parser on any bytes, as application/json (one object or an array) or NDJSON. Contract: it
/// never throws; a whole-body refusal has the right status and code for what the body is; otherwise every item
/// ends accepted or rejected exactly once, with a known code and a sentence; every accepted click obeys the
/// click table and survives the log and wire round trips; the same body parses the same twice; and an item
/// (array element or NDJSON line) sent alone as a JSON object gets the same verdict as inside the body. And the
/// record parser ingest runs gives the same outcome and record bytes (<see cref="RecordParserOracle"/>), with no key
/// publisher and with one.
/// </summary>
public static class ParserTarget
{
    private static readonly HashSet<string> s_bodyCodes = new(StringComparer.Ordinal)
    {
        "body_too_large", "empty_body", "invalid_utf8", "invalid_json", "invalid_body", "too_many_clicks",
    };

    private static readonly HashSet<string> s_itemCodes = new(StringComparer.Ordinal)
    {
        "invalid_click_id", "invalid_ad_id", "missing_ad_id", "invalid_campaign_id", "invalid_advertiser_id",
        "missing_advertiser_id", "invalid_publisher_id", "publisher_mismatch", "invalid_user_id", "invalid_ip",
        "invalid_country", "invalid_device", "invalid_user_agent", "invalid_timestamp", "timestamp_in_future",
        "invalid_cost_micros", "invalid_token", "not_an_object", "invalid_json",
    };

    private static readonly JsonDocumentOptions s_documentOptions = new() { MaxDepth = 64 };

    public static FuzzResult Json(ReadOnlySpan<byte> body) => Check(body, ndjson: false, keyPublisherId: null);

    public static FuzzResult Ndjson(ReadOnlySpan<byte> body) => Check(body, ndjson: true, keyPublisherId: null);

    internal static FuzzResult Check(ReadOnlySpan<byte> body, bool ndjson, string? keyPublisherId)
    {
        string contentType = ndjson ? "application/x-ndjson" : "application/json; charset=utf-8";
        RecordParserOracle.RequireSame(body, contentType, keyPublisherId);
        RecordParserOracle.RequireSame(body, contentType, Fixtures.KeyPublisherId);
        ParseOutcome outcome = Fixtures.Parser.Parse(body, contentType, keyPublisherId);
        string described = Describe(outcome);
        FuzzContractException.Require(described == Describe(Fixtures.Parser.Parse(body, contentType, keyPublisherId)), "The same body parsed twice gave different outcomes.");
        if (outcome.BodyError is { } error)
        {
            CheckBodyError(body, error, ndjson);
            return new FuzzResult(0, 0, BodyRejected: true, Verified: false);
        }

        string? deserved = ExpectedBodyCode(body, ndjson);
        FuzzContractException.Require(deserved is null, $"The body was not refused whole, but it is {deserved}.");
        foreach (Rejection rejection in outcome.Rejections)
        {
            FuzzContractException.Require(s_itemCodes.Contains(rejection.Code), $"Item {rejection.Index} was rejected with an unknown code '{rejection.Code}'.");
            RequireSentence(rejection.Error, $"item {rejection.Index}");
        }

        foreach (ParsedClick parsed in outcome.Accepted)
        {
            ClickRules.Check(parsed.Click, $"item {parsed.Index}");
            ClickRules.CheckWireRoundTrip(parsed.Click, $"item {parsed.Index}");
        }

        if (ndjson)
        {
            CheckLines(body, outcome, keyPublisherId);
        }
        else
        {
            CheckDocument(body, outcome, keyPublisherId);
        }

        return new FuzzResult(outcome.Accepted.Count, outcome.Rejections.Count, BodyRejected: false, Verified: false);
    }

    /// <summary>The outcome as text: equal text, equal outcome.</summary>
    public static string Describe(ParseOutcome outcome)
    {
        if (outcome.BodyError is { } error)
        {
            return $"{error.Status} {error.Code}: {error.Message}";
        }

        var text = new StringBuilder();
        foreach (ParsedClick parsed in outcome.Accepted)
        {
            text.Append(parsed.Index).Append(" accepted ").Append(ClickRules.Describe(parsed.Click)).Append('\n');
        }

        foreach (Rejection rejection in outcome.Rejections)
        {
            text.Append(rejection.Index).Append(" rejected ").Append(rejection.Code).Append(": ").Append(rejection.Error).Append('\n');
        }

        return text.ToString();
    }

    private static void CheckBodyError(ReadOnlySpan<byte> body, BodyError error, bool ndjson)
    {
        FuzzContractException.Require(s_bodyCodes.Contains(error.Code), $"The body was refused with an unknown code '{error.Code}'.");
        FuzzContractException.Require(error.Status == (error.Code is "body_too_large" or "too_many_clicks" ? 413 : 400), $"The body was refused with {error.Status} {error.Code}.");
        RequireSentence(error.Message, "the body");
        string? expected = ExpectedBodyCode(body, ndjson);
        FuzzContractException.Require(error.Code == expected, $"The body was refused as {error.Code}, but it is {expected ?? "a body of items"}.");
    }

    // The whole-body refusal a body deserves, worked out apart from the parser: null when its items are to be judged.
    private static string? ExpectedBodyCode(ReadOnlySpan<byte> body, bool ndjson)
    {
        if (body.Length > Fixtures.Limits.BodyBytesMax)
        {
            return "body_too_large";
        }

        if (body.IndexOfAnyExcept(" \t\r\n"u8) < 0)
        {
            return "empty_body";
        }

        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return "invalid_utf8";
        }

        if (ndjson)
        {
            return Lines(body).Count > Fixtures.Limits.ClicksPerRequestMax ? "too_many_clicks" : null;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray(), s_documentOptions);
        }
        catch (JsonException)
        {
            return "invalid_json";
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            return root.ValueKind switch
            {
                JsonValueKind.Object => null,
                JsonValueKind.Array => root.GetArrayLength() > Fixtures.Limits.ClicksPerRequestMax ? "too_many_clicks" : null,
                _ => "invalid_body",
            };
        }
    }

    private static List<(int Number, byte[] Bytes)> Lines(ReadOnlySpan<byte> body)
    {
        var lines = new List<(int Number, byte[] Bytes)>();
        int number = 0;
        foreach (Range range in body.Split((byte)'\n'))
        {
            ReadOnlySpan<byte> line = body[range];
            if (line.IndexOfAnyExcept(" \t\r\n"u8) >= 0)
            {
                lines.Add((number, line.ToArray()));
            }

            number++;
        }

        return lines;
    }

    // A JSON body: the items are the root object, or the elements of the root array.
    private static void CheckDocument(ReadOnlySpan<byte> body, ParseOutcome outcome, string? keyPublisherId)
    {
        using JsonDocument document = JsonDocument.Parse(body.ToArray(), s_documentOptions);
        JsonElement root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object)
        {
            RequireIndexes(outcome, [0]);
            return;
        }

        RequireIndexes(outcome, Enumerable.Range(0, root.GetArrayLength()).ToList());
        int index = 0;
        foreach (JsonElement item in root.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Object)
            {
                RequireSameAlone(Encoding.UTF8.GetBytes(item.GetRawText()), outcome, index, keyPublisherId);
            }

            index++;
        }
    }

    // An NDJSON body: the items are the lines that are not blank, indexed by line number.
    private static void CheckLines(ReadOnlySpan<byte> body, ParseOutcome outcome, string? keyPublisherId)
    {
        List<(int Number, byte[] Bytes)> lines = Lines(body);
        RequireIndexes(outcome, lines.Select(l => l.Number).ToList());
        foreach ((int line, byte[] bytes) in lines)
        {
            Rejection? rejection = outcome.Rejections.FirstOrDefault(r => r.Index == line);
            if (rejection is { Code: "invalid_json" })
            {
                // Not JSON at all (refused whole when alone), or an object whose field names are not valid text.
                ParseOutcome alone = Fixtures.Parser.Parse(bytes, "application/json", keyPublisherId);
                bool same = alone.BodyError?.Code == "invalid_json" || (alone.Accepted.Count == 0 && alone.Rejections is [{ Code: "invalid_json" }]);
                if (!same)
                {
                    throw new FuzzContractException($"Line {line} is invalid JSON in NDJSON but alone it parses to {Describe(alone)}");
                }
            }
            else if (rejection is not { Code: "not_an_object" })
            {
                RequireSameAlone(bytes, outcome, line, keyPublisherId);
            }
        }
    }

    // Every item index appears exactly once, accepted or rejected, and each list keeps the body's order.
    private static void RequireIndexes(ParseOutcome outcome, List<int> expected)
    {
        List<int> accepted = outcome.Accepted.Select(a => a.Index).ToList();
        List<int> rejected = outcome.Rejections.Select(r => r.Index).ToList();
        FuzzContractException.Require(accepted.SequenceEqual(accepted.Order()) && rejected.SequenceEqual(rejected.Order()), "Accepted or rejected items are out of order.");
        FuzzContractException.Require(
            accepted.Concat(rejected).Order().SequenceEqual(expected),
            $"Items [{string.Join(',', expected)}] ended as accepted [{string.Join(',', accepted)}] and rejected [{string.Join(',', rejected)}].");
    }

    // An object item alone as the whole body: the same click, or the same rejection code.
    private static void RequireSameAlone(byte[] item, ParseOutcome outcome, int index, string? keyPublisherId)
    {
        ParseOutcome alone = Fixtures.Parser.Parse(item, "application/json", keyPublisherId);
        ParsedClick? accepted = outcome.Accepted.FirstOrDefault(a => a.Index == index);
        string inBody = accepted is not null
            ? "accepted " + ClickRules.Describe(accepted.Click)
            : "rejected " + outcome.Rejections.First(r => r.Index == index).Code;
        string single = alone.BodyError is { } error ? "refused " + error.Code
            : alone.Accepted.Count == 1 && alone.Rejections.Count == 0 ? "accepted " + ClickRules.Describe(alone.Accepted[0].Click)
            : alone.Rejections.Count == 1 && alone.Accepted.Count == 0 ? "rejected " + alone.Rejections[0].Code
            : Describe(alone);
        FuzzContractException.Require(inBody == single, $"Item {index} is {inBody} in the body but {single} alone.");
    }

    private static void RequireSentence(string text, string where)
    {
        FuzzContractException.Require(text.Length > 0 && text.EndsWith('.') && !text.Contains("Exception", StringComparison.Ordinal) && !text.Contains("Tollbooth.", StringComparison.Ordinal),
            $"The message for {where} is not one plain sentence: '{text}'.");
    }
}

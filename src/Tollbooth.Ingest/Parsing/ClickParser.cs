using System.Text.Json;
using Tollbooth.Core;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Ingest.Parsing;

/// <summary>
/// Reads a click request body (one JSON object, a JSON array of objects, or NDJSON) into validated,
/// normalised clicks and per-item rejections, as API.md's click table says. Never throws for any input.
/// </summary>
public sealed class ClickParser(IngestLimits limits, IClock clock, IpPseudonymizer ips)
{
    private static readonly JsonDocumentOptions s_documentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// The parser ingest runs (<see cref="ClickRecordParser"/>), with this one's limits, clock and IP key: it gives the
    /// same outcomes as this one, which stays as its reference and for the naive design.
    /// </summary>
    public ClickRecordParser RecordParser(ClickSigning signing) => new(limits, clock, ips, signing);

    public ParseOutcome Parse(ReadOnlySpan<byte> body, string? contentType, string? keyPublisherId)
    {
        if (body.Length > limits.BodyBytesMax)
        {
            return ParseOutcome.Failed(413, "body_too_large", $"The body is over {limits.BodyBytesMax} bytes: split the clicks into smaller requests.");
        }

        string media = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        bool ndjson = media is "application/x-ndjson" or "application/ndjson" or "application/jsonlines" or "application/x-jsonlines";
        if (media != "application/json" && !ndjson)
        {
            return ParseOutcome.Failed(400, "unsupported_media_type", "Send the clicks with Content-Type application/json (an object or an array) or application/x-ndjson (one object per line).");
        }

        if (IsBlank(body))
        {
            return ParseOutcome.Failed(400, "empty_body", "The body is empty: send one click object, an array of them, or NDJSON lines.");
        }

        // Checked whole and up front: JsonDocument checks the UTF-8 of a string only when it is read, and throws then.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return ParseOutcome.Failed(400, "invalid_utf8", "The body is not valid UTF-8: send the clicks as UTF-8 encoded JSON.");
        }

        var fields = new ClickFields(limits, clock.UtcNowMs, ips, keyPublisherId);
        return ndjson ? ParseLines(body, fields) : ParseJson(body, fields);
    }

    private ParseOutcome ParseJson(ReadOnlySpan<byte> body, ClickFields fields)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray(), s_documentOptions);
        }
        catch (JsonException exception)
        {
            return ParseOutcome.Failed(400, "invalid_json", $"The body is not valid JSON (near byte {exception.BytePositionInLine ?? 0} of line {(exception.LineNumber ?? 0) + 1}): send one click object or an array of them.");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                return Collect([root], fields);
            }

            if (root.ValueKind != JsonValueKind.Array)
            {
                return ParseOutcome.Failed(400, "invalid_body", "The body must be a JSON object or an array of objects.");
            }

            if (root.GetArrayLength() > limits.ClicksPerRequestMax)
            {
                return TooMany();
            }

            return Collect(root.EnumerateArray().ToList(), fields);
        }
    }

    private ParseOutcome Collect(List<JsonElement> items, ClickFields fields)
    {
        var accepted = new List<ParsedClick>(items.Count);
        var rejected = new List<Rejection>();
        for (int index = 0; index < items.Count; index++)
        {
            Take(items[index], index, fields, accepted, rejected);
        }

        return ParseOutcome.Items(accepted, rejected);
    }

    private ParseOutcome ParseLines(ReadOnlySpan<byte> body, ClickFields fields)
    {
        var lines = new List<(int Number, int Start, int Length)>();
        int number = 0;
        int start = 0;
        while (start <= body.Length)
        {
            int end = body[start..].IndexOf((byte)'\n');
            int length = end < 0 ? body.Length - start : end;
            if (!IsBlank(body.Slice(start, length)))
            {
                lines.Add((number, start, length));
            }

            if (end < 0)
            {
                break;
            }

            start += end + 1;
            number++;
        }

        if (lines.Count > limits.ClicksPerRequestMax)
        {
            return TooMany();
        }

        var accepted = new List<ParsedClick>(lines.Count);
        var rejected = new List<Rejection>();
        foreach ((int line, int offset, int length) in lines)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(body.Slice(offset, length).ToArray(), s_documentOptions);
            }
            catch (JsonException)
            {
                rejected.Add(new Rejection(line, "This line is not valid JSON: send one click object per line.", "invalid_json"));
                continue;
            }

            using (document)
            {
                Take(document.RootElement, line, fields, accepted, rejected);
            }
        }

        return ParseOutcome.Items(accepted, rejected);
    }

    private static void Take(JsonElement item, int index, ClickFields fields, List<ParsedClick> accepted, List<Rejection> rejected)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            rejected.Add(new Rejection(index, "This item is not a JSON object: send each click as an object with at least ad_id and advertiser_id.", "not_an_object"));
            return;
        }

        Click? click;
        string? code;
        string? error;
        try
        {
            (click, code, error) = fields.Read(item);
        }
        catch (InvalidOperationException)
        {
            // A field name can spell invalid UTF-16 with a JSON escape (a lone surrogate such as \ud800): looking up
            // any field then throws. Found by fuzzing (fuzz/corpus/json/crash-*): a bad item, not a server error.
            rejected.Add(new Rejection(index, "This item has a field name that is not valid text (a lone \\u surrogate escape): send each click as a JSON object with plain field names.", "invalid_json"));
            return;
        }

        if (click is null)
        {
            rejected.Add(new Rejection(index, error!, code!));
        }
        else
        {
            accepted.Add(new ParsedClick(index, click));
        }
    }

    private ParseOutcome TooMany() =>
        ParseOutcome.Failed(413, "too_many_clicks", $"The request holds more than {limits.ClicksPerRequestMax} clicks: split it into smaller requests.");

    private static bool IsBlank(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept(" \t\r\n"u8) < 0;
}

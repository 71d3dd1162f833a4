using System.Text.Json;

namespace Tollbooth.Http;

/// <summary>
/// The JSON object bodies of every endpoint but the clicks' (keys, tokens, advertisers, filters, rule dry-runs), read
/// one way: at most 64 KiB, a JSON object, and text that is text. JSON may spell text that is not valid UTF-16 (a lone
/// surrogate escape such as <c>\ud800</c>); System.Text.Json parses it, then throws when the string or field name is
/// read. Bodies are checked once, whole, after parsing, so such a body is a 400 before any endpoint reads it (it
/// answered 500 on POST /v1/tokens until a fuzz run found it).
/// </summary>
public static class JsonText
{
    private const int ObjectBodyBytesMax = 64 * 1024;

    private const string InvalidTextSentence =
        "A string or field name in the body holds a lone \\u surrogate escape, which is not text: send plain UTF-8 text.";

    /// <summary>The request's body as a JSON object, or the 400 or 413 that says what to send instead (<paramref name="example"/>).</summary>
    public static async Task<(JsonElement Body, IResult? Error)> ReadObjectAsync(HttpContext context, string example)
    {
        if (context.Request.ContentLength > ObjectBodyBytesMax)
        {
            return (default, ApiError.Result(413, "body_too_large", $"The body is larger than {ObjectBodyBytesMax / 1024} KiB: send a smaller JSON object."));
        }

        try
        {
            JsonElement body = await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body, cancellationToken: context.RequestAborted);
            return body.ValueKind != JsonValueKind.Object ? (default, ApiError.Result(400, "invalid_body", $"The body must be a JSON object such as {example}."))
                : !IsValidText(body) ? (default, ApiError.Result(400, "invalid_json", InvalidTextSentence))
                : (body, null);
        }
        catch (JsonException)
        {
            return (default, ApiError.Result(400, "invalid_json", $"The body is not valid JSON: send a JSON object such as {example}."));
        }
    }

    /// <summary>True when every field name and string in <paramref name="element"/> reads as valid text.</summary>
    private static bool IsValidText(JsonElement element)
    {
        try
        {
            return Check(element);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    // Recursion is bounded by the parser's maximum depth (64).
    private static bool Check(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                _ = element.GetString();
                return true;
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    _ = property.Name;
                    if (!Check(property.Value))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Array:
                foreach (JsonElement item in element.EnumerateArray())
                {
                    if (!Check(item))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return true;
        }
    }
}

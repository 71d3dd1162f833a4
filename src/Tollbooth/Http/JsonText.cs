using System.Text.Json;

namespace Tollbooth.Http;

/// <summary>
/// JSON may spell text that is not valid UTF-16 (a lone surrogate escape such as <c>\ud800</c>); System.Text.Json
/// parses it, then throws when the string or field name is read. Bodies are checked once, whole, after parsing, so
/// such a body is a 400 before any endpoint reads it (it answered 500 on POST /v1/tokens until a fuzz run found it).
/// </summary>
public static class JsonText
{
    public const string InvalidTextSentence =
        "A string or field name in the body holds a lone \\u surrogate escape, which is not text: send plain UTF-8 text.";

    /// <summary>True when every field name and string in <paramref name="element"/> reads as valid text.</summary>
    public static bool IsValidText(JsonElement element)
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

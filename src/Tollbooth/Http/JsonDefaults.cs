using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tollbooth.Http;

/// <summary>snake_case names, nulls left out: the wire format of API.md.</summary>
public static class JsonDefaults
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

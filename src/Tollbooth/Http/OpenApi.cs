using System.Text.Json;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Tollbooth.Http;

/// <summary>What an endpoint documents about itself: attached where it is mapped, read by <see cref="OpenApi"/>.</summary>
public sealed record ApiDoc(string Summary, string Access, IReadOnlyList<(string Name, string Description)> Query, IReadOnlyList<int> Statuses);

/// <summary>
/// GET /openapi.json: an OpenAPI 3.0 document built from the mapped endpoints themselves (their route
/// patterns, methods and <see cref="ApiDoc"/> metadata), so it cannot drift from what is served.
/// </summary>
public static class OpenApi
{
    private static readonly ApiDoc s_undocumented = new("Undocumented.", "see API.md", [], [200]);

    public static RouteHandlerBuilder Doc(this RouteHandlerBuilder builder, string summary, string access, int[] statuses, params (string Name, string Description)[] query) =>
        builder.WithMetadata(new ApiDoc(summary, access, query, statuses));

    public static void Map(WebApplication app)
    {
        app.MapGet("/openapi.json", (EndpointDataSource endpoints) => new JsonBody(writer => Write(writer, endpoints)))
            .Doc("This API as an OpenAPI 3 document.", "none", [200]);
    }

    private static void Write(Utf8JsonWriter writer, EndpointDataSource source)
    {
        var operations = source.Endpoints
            .OfType<RouteEndpoint>()
            // An endpoint mapped without an ApiDoc is listed too, so nothing served is missing from the document.
            .Select(e => (Endpoint: e, Doc: e.Metadata.GetMetadata<ApiDoc>() ?? s_undocumented, Methods: e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []))
            .GroupBy(e => PathOf(e.Endpoint.RoutePattern))
            .OrderBy(g => g.Key, StringComparer.Ordinal);

        writer.WriteStartObject();
        writer.WriteString("openapi", "3.0.3");
        writer.WriteStartObject("info");
        writer.WriteString("title", "Tollbooth");
        writer.WriteString("version", "1");
        writer.WriteString("description", "Ad clicks counted exactly once. Keys go in X-Api-Key or Authorization: Bearer.");
        writer.WriteEndObject();
        writer.WriteStartObject("components");
        writer.WriteStartObject("securitySchemes");
        writer.WriteStartObject("apiKey");
        writer.WriteString("type", "apiKey");
        writer.WriteString("in", "header");
        writer.WriteString("name", "X-Api-Key");
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteStartObject("paths");
        foreach (var path in operations)
        {
            writer.WriteStartObject(path.Key);
            foreach (var operation in path)
            {
                foreach (string method in operation.Methods)
                {
                    WriteOperation(writer, method.ToLowerInvariant(), operation.Endpoint.RoutePattern, operation.Doc);
                }
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteOperation(Utf8JsonWriter writer, string method, RoutePattern pattern, ApiDoc doc)
    {
        writer.WriteStartObject(method);
        writer.WriteString("summary", doc.Summary);
        writer.WriteString("description", $"Access: {doc.Access}.");
        if (doc.Access != "none")
        {
            writer.WriteStartArray("security");
            writer.WriteStartObject();
            writer.WriteStartArray("apiKey");
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndArray();
        }

        writer.WriteStartArray("parameters");
        foreach (RoutePatternParameterPart parameter in pattern.Parameters)
        {
            WriteParameter(writer, SnakeCase(parameter.Name), "path", required: true, $"The {SnakeCase(parameter.Name)}.");
        }

        foreach ((string name, string description) in doc.Query)
        {
            WriteParameter(writer, name, "query", required: false, description);
        }

        writer.WriteEndArray();
        writer.WriteStartObject("responses");
        foreach (int status in doc.Statuses)
        {
            writer.WriteStartObject(status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString("description", status switch
            {
                200 => "OK",
                201 => "Created",
                202 => "Accepted: durable in the click log",
                204 => "No content",
                302 => "Redirect",
                400 => "Bad request: {\"error\", \"code\"}",
                401 => "Missing or unknown key",
                403 => "The key's role may not do this",
                404 => "Unknown, or not visible to this key",
                413 => "Body too large or too many clicks",
                429 => "Too many requests: a rate limit is spent; retry after Retry-After (whole seconds)",
                503 => "Unavailable: retry after Retry-After",
                _ => "See the error body",
            });
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteParameter(Utf8JsonWriter writer, string name, string location, bool required, string description)
    {
        writer.WriteStartObject();
        writer.WriteString("name", name);
        writer.WriteString("in", location);
        writer.WriteBoolean("required", required);
        writer.WriteString("description", description);
        writer.WriteStartObject("schema");
        writer.WriteString("type", "string");
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static string PathOf(RoutePattern pattern) =>
        "/" + string.Join('/', pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => "{" + SnakeCase(parameter.Name) + "}",
            _ => string.Empty,
        }))));

    private static string SnakeCase(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : string.Empty) + char.ToLowerInvariant(c) : c.ToString()));
}

/// <summary>The query parameters several endpoints share, described once.</summary>
internal static class ApiDocs
{
    private static readonly (string, string)[] s_filters =
    [
        ("campaign_id", "Only this campaign's clicks."),
        ("publisher_id", "Only this publisher's clicks."),
        ("country", "Only clicks from this ISO 3166-1 alpha-2 country."),
        ("device", "Only clicks from desktop, mobile, tablet, ctv or other."),
        ("filter", "A saved filter's filter_id: stands for its fields."),
        ("tz", "IANA time zone for times without an offset (and hours and days); default UTC or the advertiser's."),
    ];

    public static readonly (string, string)[] Count =
        [("from", "Start, rounded down to the minute (default: to - 1 minute)."), ("to", "End, exclusive, rounded down to the minute (default: now); at most 366 days after from."), .. s_filters];

    public static readonly (string, string)[] Popular =
        [("count", "How many ads, 1 to 1000 (default 10)."), ("window", "Whole minutes, 1 to 1440 (default 1)."), ("to", "End of the window (default: the end of the newest closed minute)."), .. s_filters];

    public static readonly (string, string)[] Aggregates =
    [
        ("ad_id", "One ad (name exactly one of ad_id, campaign_id, advertiser_id)."),
        ("advertiser_id", "One advertiser."),
        ("start", "Start; windows overlapping [start, end) come back whole. The range spans at most 31 days (minute), 366 (hour) or 3660 (day)."),
        ("end", "End, exclusive (default: now)."),
        ("granularity", "minute, hour or day (default minute)."),
        ("group_by", "Split by country, device, publisher_id, campaign_id or ad_id; an answer holds at most 10,000 rows (windows times groups), else 400 too_many_rows."),
        ("detail", "true adds invalid_by_reason."),
        ("format", "json (default) or csv."),
        .. s_filters,
    ];

    public static readonly (string, string)[] Realtime =
        [("ad_id", "One ad (or campaign_id)."), ("campaign_id", "One campaign."), ("window", "30s to 24h (default 5m).")];
}

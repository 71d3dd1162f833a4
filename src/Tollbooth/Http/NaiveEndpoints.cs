using Tollbooth.Core;
using Tollbooth.Ingest;
using Tollbooth.Naive;

namespace Tollbooth.Http;

/// <summary>
/// The naive engine's API (<c>serve --engine naive</c>): POST /v1/clicks and the counts of one ad, on the same
/// paths, keys and error shapes as Tollbooth, answered straight from PostgreSQL.
/// </summary>
public static class NaiveEndpoints
{
    private static readonly string[] s_unsupportedFilters = ["campaign_id", "publisher_id", "country", "device", "user_id", "ip", "filter"];

    public static void Map(WebApplication app)
    {
        app.MapPost("/v1/clicks", PostAsync)
            .Doc("Naive engine: stores each click in PostgreSQL; 202 once every one has committed.", "publisher or admin", [202, 400, 401, 403, 413, 503]);
        app.MapPost("/events/click", PostAsync)
            .Doc("The seeds' click path, the same as POST /v1/clicks.", "publisher or admin", [202, 400, 401, 403, 413, 503]);
        app.MapGet("/v1/ads/{adId}/aggregated_count", (HttpContext c, KeyRing k, NaiveClickStore s, string adId) => AggregatedCountAsync(c, k, s, adId, seedShape: false))
            .Doc("Naive engine: clicks of one ad in whole minutes [from, to), duplicates included.", "advertiser (own) or admin", [200, 400, 401, 403, 404], ApiDocs.Count);
        app.MapGet("/ads/{adId}/aggregated_count", (HttpContext c, KeyRing k, NaiveClickStore s, string adId) => AggregatedCountAsync(c, k, s, adId, seedShape: true))
            .Doc("The seeds' count: {ad_id, count}.", "advertiser (own) or admin", [200, 400, 401, 403, 404], ApiDocs.Count);
        app.MapGet("/health/live", () => Results.Json(new { status = "live" }, JsonDefaults.Options))
            .Doc("Liveness.", "none", [200]);
        app.MapGet("/health/ready", () => Results.Json(new { status = "ready" }, JsonDefaults.Options))
            .Doc("Readiness.", "none", [200]);
    }

    private static async Task<IResult> PostAsync(HttpContext context, KeyRing keys, NaiveIngestService ingest)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, keys, ApiKeyRole.Publisher);
        if (denied is not null)
        {
            return denied;
        }

        long bytesMax = ingest.Limits.BodyBytesMax;
        using RequestBody body = await RequestBody.ReadAsync(context.Request, bytesMax);
        if (body.TooLarge)
        {
            return ApiError.Result(413, "body_too_large", $"The body is over {bytesMax} bytes: split the clicks into smaller requests.");
        }

        IngestOutcome outcome = await ingest.IngestAsync(body.Bytes, context.Request.ContentType, caller!.PublisherId);
        if (outcome.Status != 202)
        {
            return ApiError.Result(outcome.Status, outcome.Code!, outcome.Error!, outcome.Status == 503 ? 1 : null);
        }

        var rejected = outcome.Rejected.Select(r => new { index = r.Index, error = r.Error, code = r.Code }).ToList();
        return Results.Json(new { accepted = outcome.Accepted, rejected }, JsonDefaults.Options, statusCode: 202);
    }

    private static async Task<IResult> AggregatedCountAsync(HttpContext context, KeyRing keys, NaiveClickStore store, string adId, bool seedShape)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        foreach (string name in s_unsupportedFilters)
        {
            if (query.ContainsKey(name))
            {
                return ApiError.Result(400, "filter_not_supported", $"The naive engine keeps no breakdown by {name}: ask without it, or ask Tollbooth's default engine.");
            }
        }

        if (!QueryParameters.TryZone(query["tz"], out TimeZoneInfo zone))
        {
            return QueryParameters.BadZone();
        }

        if (!QueryParameters.TryTime(query["to"], zone, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), out long toMs))
        {
            return QueryParameters.BadTime("to");
        }

        if (!QueryParameters.TryTime(query["from"], zone, toMs - 60_000, out long fromMs))
        {
            return QueryParameters.BadTime("from");
        }

        long fromMinuteMs = TimeText.FloorToMinuteMs(fromMs);
        long toMinuteMs = TimeText.FloorToMinuteMs(toMs);
        if (fromMinuteMs > toMinuteMs)
        {
            return ApiError.Result(400, "invalid_range", "from is after to: send a from that is at or before to.");
        }

        string? owner = await store.OwnerOfAsync(adId);
        if (owner is null || (caller!.Role != ApiKeyRole.Admin && caller.AdvertiserId != owner))
        {
            return AggregateEndpoints.NotFound("ad");
        }

        long count = await store.CountAsync(adId, fromMinuteMs, toMinuteMs);
        return seedShape
            ? Results.Json(new { ad_id = adId, count }, JsonDefaults.Options)
            : Results.Json(new { ad_id = adId, from = TimeText.Format(fromMinuteMs), to = TimeText.Format(toMinuteMs), count }, JsonDefaults.Options);
    }
}

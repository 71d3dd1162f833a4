using Tollbooth.Core;
using Tollbooth.Processing;
using Tollbooth.Query;

namespace Tollbooth.Http;

/// <summary>GET /v1/ads/{ad_id}/aggregated_count and its seed path /ads/{ad_id}/aggregated_count.</summary>
public static class QueryEndpoints
{
    // A count reads the ad's minute rows of the range (or its raw events, with user_id or ip): as many as an
    // hour-granularity aggregates query over the same range, so the same cap.
    private const long SpanMinutesMax = 366 * 24 * 60;

    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/ads/{adId}/aggregated_count", (HttpContext c, QueryServices q, string adId) => AggregatedCount(c, q, adId, seedShape: false))
            .Doc("Valid clicks of one ad in whole minutes [from, to).", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Count);
        app.MapGet("/ads/{adId}/aggregated_count", (HttpContext c, QueryServices q, string adId) => AggregatedCount(c, q, adId, seedShape: true))
            .Doc("The seeds' count: {ad_id, count}.", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Count);
    }

    private static IResult AggregatedCount(HttpContext context, QueryServices services, string adId, bool seedShape)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        if (!QueryParameters.TryZone(query["tz"], out TimeZoneInfo zone))
        {
            return QueryParameters.BadZone();
        }

        if (!QueryParameters.TryTime(query["to"], zone, services.Clock.UtcNowMs, out long toMs))
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

        if ((toMinuteMs - fromMinuteMs) / 60_000 > SpanMinutesMax)
        {
            return ApiError.Result(400, "range_too_large", $"A count spans at most {SpanMinutesMax / 1440} days: narrow from and to.");
        }

        (DimensionFilter filter, IResult? badFilter) = Filters.Read(query, caller!, services);
        if (badFilter is not null)
        {
            return badFilter;
        }

        string? owner = services.Ads.VisibleOwner(adId, caller!);
        if (owner is null)
        {
            return AggregateEndpoints.NotFound("ad");
        }

        long count = services.Ads.Count(adId, owner, fromMinuteMs / 60_000, toMinuteMs / 60_000, filter);
        return seedShape
            ? Results.Json(new { ad_id = adId, count }, JsonDefaults.Options)
            : Results.Json(new { ad_id = adId, from = TimeText.Format(fromMinuteMs), to = TimeText.Format(toMinuteMs), count }, JsonDefaults.Options);
    }
}

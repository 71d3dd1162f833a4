using Tollbooth.Core;
using Tollbooth.Processing;
using Tollbooth.Query;

namespace Tollbooth.Http;

/// <summary>GET /v1/ads/{ad_id}/aggregated_count and its seed path /ads/{ad_id}/aggregated_count.</summary>
public static class QueryEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/ads/{adId}/aggregated_count", (HttpContext c, KeyRing k, AdQueries q, IClock clock, string adId) => AggregatedCount(c, k, q, clock, adId, seedShape: false));
        app.MapGet("/ads/{adId}/aggregated_count", (HttpContext c, KeyRing k, AdQueries q, IClock clock, string adId) => AggregatedCount(c, k, q, clock, adId, seedShape: true));
    }

    private static IResult AggregatedCount(HttpContext context, KeyRing keys, AdQueries queries, IClock clock, string adId, bool seedShape)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        if (!TryTime(query["to"], clock.UtcNowMs, out long toMs))
        {
            return BadTime("to");
        }

        if (!TryTime(query["from"], toMs - 60_000, out long fromMs))
        {
            return BadTime("from");
        }

        long fromMinuteMs = TimeText.FloorToMinuteMs(fromMs);
        long toMinuteMs = TimeText.FloorToMinuteMs(toMs);
        if (fromMinuteMs > toMinuteMs)
        {
            return ApiError.Result(400, "invalid_range", "from is after to: send a from that is at or before to.");
        }

        (DimensionFilter filter, IResult? badFilter) = Filters.Read(query);
        if (badFilter is not null)
        {
            return badFilter;
        }

        string? owner = queries.VisibleOwner(adId, caller!);
        if (owner is null)
        {
            return ApiError.Result(404, "ad_not_found", "No ad with this ad_id is visible to this key: check the ad_id.");
        }

        long count = queries.Count(adId, owner, fromMinuteMs / 60_000, toMinuteMs / 60_000, filter);
        return seedShape
            ? Results.Json(new { ad_id = adId, count }, JsonDefaults.Options)
            : Results.Json(new { ad_id = adId, from = TimeText.Format(fromMinuteMs), to = TimeText.Format(toMinuteMs), count }, JsonDefaults.Options);
    }

    private static bool TryTime(string? text, long fallbackMs, out long epochMs)
    {
        if (string.IsNullOrEmpty(text))
        {
            epochMs = fallbackMs;
            return true;
        }

        return TimeText.TryParse(text, out epochMs);
    }

    private static IResult BadTime(string name) =>
        ApiError.Result(400, "invalid_time", $"{name} must be an RFC 3339 time such as 2026-11-22T10:04:00Z or integer epoch milliseconds.");
}

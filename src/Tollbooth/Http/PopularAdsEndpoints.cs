using Tollbooth.Core;
using Tollbooth.Processing;
using Tollbooth.Query;

namespace Tollbooth.Http;

/// <summary>
/// GET /v1/ads/popular_ads and the seeds' /ads/popular_ads: the top ads over whole minutes, computed per
/// partition and merged. An ad lives in one partition, so the merged top N of the per-partition top Ns is exact.
/// </summary>
public static class PopularAdsEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/ads/popular_ads", (HttpContext c, QueryServices q) => PopularAds(c, q, seedShape: false))
            .Doc("Top ads over whole minutes, ties by ad_id.", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Popular);
        app.MapGet("/ads/popular_ads", (HttpContext c, QueryServices q) => PopularAds(c, q, seedShape: true))
            .Doc("The seeds' top ads: {ad_ids}.", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Popular);
    }

    private static IResult PopularAds(HttpContext context, QueryServices services, bool seedShape)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        if (!QueryParameters.TryInt(query["count"], 1, 1000, 10, out int count))
        {
            return ApiError.Result(400, "invalid_count", "count must be a whole number from 1 to 1000.");
        }

        if (!QueryParameters.TryInt(query["window"], 1, 1440, 1, out int window))
        {
            return ApiError.Result(400, "invalid_window", "window must be a whole number of minutes from 1 to 1440.");
        }

        if (!QueryParameters.TryZone(query["tz"], out TimeZoneInfo zone))
        {
            return QueryParameters.BadZone();
        }

        // Default: the end of the newest closed minute, as readers see the watermark.
        long defaultTo = services.ReaderWatermarkMs() is long watermark ? TimeText.FloorToMinuteMs(watermark) : TimeText.FloorToMinuteMs(services.Clock.UtcNowMs);
        if (!QueryParameters.TryTime(query["to"], zone, defaultTo, out long toMs))
        {
            return QueryParameters.BadTime("to");
        }

        (DimensionFilter filter, IResult? badFilter) = Filters.Read(query, caller!, services);
        if (badFilter is not null)
        {
            return badFilter;
        }

        long toMinute = TimeText.FloorToMinuteMs(toMs) / 60_000;
        long fromMinute = toMinute - window;
        string? tenant = caller!.Role == ApiKeyRole.Admin ? null : caller.AdvertiserId;
        // Reduce: each partition's top list (an ad lives in one partition) merged into the global one.
        List<AdTotal> merged = WindowReaders.For(filter, services.Store, services.RawEvents).TopAdsPerPartition(fromMinute, toMinute, filter, tenant, count).Select(p => p.Ad).ToList();
        merged.Sort(static (a, b) => a.Clicks != b.Clicks ? b.Clicks.CompareTo(a.Clicks) : string.CompareOrdinal(a.AdId, b.AdId));
        List<AdTotal> top = merged.Take(count).ToList();
        if (seedShape)
        {
            return Results.Json(new { ad_ids = top.Select(a => a.AdId) }, JsonDefaults.Options);
        }

        return new JsonBody(writer =>
        {
            writer.WriteStartObject();
            writer.WriteNumber("window_minutes", window);
            writer.WriteString("from", TimeText.Format(fromMinute * 60_000));
            writer.WriteString("to", TimeText.Format(toMinute * 60_000));
            writer.WriteStartArray("ads");
            foreach (AdTotal ad in top)
            {
                writer.WriteStartObject();
                writer.WriteString("ad_id", ad.AdId);
                if (services.Ads.VisibleOwner(ad.AdId, caller) is { } owner)
                {
                    writer.WriteString("advertiser_id", owner);
                }

                writer.WriteNumber("count", ad.Clicks);
                writer.WriteNumber("spend_micros", ad.SpendMicros);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using Tollbooth.Core;
using Tollbooth.Processing;
using Tollbooth.Query;

namespace Tollbooth.Http;

/// <summary>GET /v1/aggregates and /v1/aggregates/realtime, with the seeds' /aggregates and /aggregates/realtime.</summary>
public static class AggregateEndpoints
{
    private static readonly long[] s_defaultSpanMinutes = [60, 24 * 60, 7 * 24 * 60];
    // Rows (windows times groups) of one group_by answer; without group_by the span caps bound the windows (at most
    // 44,640 minutes in 31 days).
    private const int GroupedRowsMax = 10_000;

    private static readonly long[] s_maxSpanMinutes = [31 * 24 * 60, 366 * 24 * 60, 3660L * 24 * 60];

    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/aggregates", (HttpContext c, QueryServices q) => Aggregates(c, q, seedShape: false))
            .Doc("Minute, hour or day windows of an ad, campaign or advertiser.", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Aggregates);
        app.MapGet("/aggregates", (HttpContext c, QueryServices q) => Aggregates(c, q, seedShape: true))
            .Doc("The seeds' aggregates: [{window, clicks, spend}].", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Aggregates);
        app.MapGet("/v1/aggregates/realtime", (HttpContext c, QueryServices q) => Realtime(c, q, seedShape: false))
            .Doc("Clicks and spend of the last window of processing time.", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Realtime);
        app.MapGet("/aggregates/realtime", (HttpContext c, QueryServices q) => Realtime(c, q, seedShape: true))
            .Doc("The seeds' realtime: {clicks, spend}.", "advertiser (own) or admin", [200, 400, 401, 403, 404, 429], ApiDocs.Realtime);
    }

    /// <summary>The ad, campaign or advertiser a query names, checked against the caller's tenancy.</summary>
    internal readonly record struct Subject(WindowScope Scope, string Id, string? AdvertiserScope, string? SettingsAdvertiser);

    /// <remarks>
    /// Where the query takes the filter parameters (<paramref name="campaignFilters"/>), a campaign_id beside an
    /// ad_id or advertiser_id is the contract's campaign filter on that ad or advertiser, not a second key.
    /// </remarks>
    internal static (Subject Subject, IResult? Error) ResolveSubject(
        IQueryCollection query, ApiKey caller, QueryServices services, bool allowAdvertiser = true, bool campaignFilters = false)
    {
        string? adId = Empty(query["ad_id"]);
        string? campaignId = Empty(query["campaign_id"]);
        string? advertiserId = allowAdvertiser ? Empty(query["advertiser_id"]) : null;
        if (campaignFilters && (adId ?? advertiserId) is not null)
        {
            campaignId = null;
        }

        int named = (adId is null ? 0 : 1) + (campaignId is null ? 0 : 1) + (advertiserId is null ? 0 : 1);
        string choices = allowAdvertiser ? "ad_id, campaign_id or advertiser_id" : "ad_id or campaign_id";
        if (named == 0)
        {
            return (default, ApiError.Result(400, "missing_key", $"Name exactly one of {choices}."));
        }

        if (named > 1)
        {
            return (default, ApiError.Result(400, "ambiguous_key", campaignFilters
                ? "Name ad_id or advertiser_id, not both (a campaign_id beside either filters it)."
                : $"Name exactly one of {choices}, not several: this query takes no filters."));
        }

        string? tenant = AdQueries.Tenant(caller);
        if (adId is not null)
        {
            string? owner = services.Ads.VisibleOwner(adId, caller);
            return owner is null
                ? (default, NotFound("ad"))
                : (new Subject(WindowScope.Ad, adId, owner, owner), null);
        }

        if (campaignId is not null)
        {
            return services.Ads.CampaignVisible(campaignId, caller)
                ? (new Subject(WindowScope.Campaign, campaignId, tenant, tenant), null)
                : (default, NotFound("campaign"));
        }

        bool visible = tenant is null
            ? services.Store.HasRows(WindowScope.Advertiser, advertiserId!, null) || services.Settings.FindAdvertiser(advertiserId!) is not null
            : tenant == advertiserId;
        return visible
            ? (new Subject(WindowScope.Advertiser, advertiserId!, advertiserId, advertiserId), null)
            : (default, NotFound("advertiser"));
    }

    internal static IResult NotFound(string what) =>
        ApiError.Result(404, $"{what}_not_found", $"No {what} with this {what}_id is visible to this key: check the {what}_id.");

    private static IResult Aggregates(HttpContext context, QueryServices services, bool seedShape)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        if (!QueryParameters.TryGranularity(query["granularity"], out Granularity granularity))
        {
            return ApiError.Result(400, "invalid_granularity", "granularity must be minute, hour or day.");
        }

        if (!TryBreakdown(query["group_by"], out Breakdown breakdown))
        {
            return ApiError.Result(400, "invalid_group_by", "group_by must be one of country, device, publisher_id, campaign_id or ad_id.");
        }

        string format = query["format"].ToString();
        if (format is not ("" or "json" or "csv"))
        {
            return ApiError.Result(400, "invalid_format", "format must be json or csv.");
        }

        (Subject subject, IResult? notFound) = ResolveSubject(query, caller!, services, campaignFilters: true);
        if (notFound is not null)
        {
            return notFound;
        }

        AdvertiserSettings settings = services.SettingsOf(subject.SettingsAdvertiser);
        string? tzName = Empty(query["tz"]);
        if (!QueryParameters.TryZone(tzName ?? settings.TimeZone, out TimeZoneInfo zone))
        {
            return QueryParameters.BadZone();
        }

        long nowMs = services.Clock.UtcNowMs;
        if (!QueryParameters.TryTime(query["end"], zone, nowMs, out long endMs))
        {
            return QueryParameters.BadTime("end");
        }

        if (!QueryParameters.TryTime(query["start"], zone, endMs - (s_defaultSpanMinutes[(int)granularity] * 60_000), out long startMs))
        {
            return QueryParameters.BadTime("start");
        }

        if (startMs > endMs)
        {
            return ApiError.Result(400, "invalid_range", "start is after end: send a start at or before end.");
        }

        long startMinute = FloorMinute(startMs);
        long endMinute = CeilingMinute(endMs);
        if (endMinute - startMinute > s_maxSpanMinutes[(int)granularity])
        {
            return ApiError.Result(400, "range_too_large", $"{Words.WithArticle(GranularityName(granularity), capitalized: true)} query spans at most {s_maxSpanMinutes[(int)granularity] / 1440} days: narrow start and end, or use a coarser granularity.");
        }

        (DimensionFilter filter, IResult? badFilter) = Filters.Read(query, caller!, services);
        if (badFilter is not null)
        {
            return badFilter;
        }

        bool detail = query["detail"] == "true";
        var selector = new WindowSelector(subject.Scope, subject.Id, startMinute, endMinute, filter, subject.AdvertiserScope);
        var buckets = new TimeBuckets(granularity, zone);
        IReadOnlyList<AggregateWindow> windows;
        if (breakdown == Breakdown.None)
        {
            windows = services.Aggregates.Windows(selector, buckets, breakdown, services.ReaderWatermarkMs());
        }
        else if (!services.Aggregates.TryWindows(selector, buckets, breakdown, services.ReaderWatermarkMs(), GroupedRowsMax, out windows))
        {
            return ApiError.Result(
                400,
                "too_many_rows",
                $"This group_by answer would hold more than {GroupedRowsMax.ToString("N0", CultureInfo.InvariantCulture)} rows (windows times groups): narrow start and end, use a coarser granularity, or add a filter.");
        }
        if (seedShape)
        {
            return Results.Json(
                windows.Select(w => new { window = TimeText.Format(w.StartMinute * 60_000), clicks = w.Numbers.Clicks, spend = w.Numbers.SpendMicros }),
                JsonDefaults.Options);
        }

        return format == "csv"
            ? Results.Text(Csv(windows, breakdown, detail), "text/csv; charset=utf-8")
            : new JsonBody(writer => WriteAggregates(writer, subject, granularity, zone, settings.Currency, breakdown, detail, windows));
    }

    private static void WriteAggregates(
        Utf8JsonWriter writer, Subject subject, Granularity granularity, TimeZoneInfo zone, string currency, Breakdown breakdown, bool detail, IReadOnlyList<AggregateWindow> windows)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("key");
        writer.WriteString(ScopeField(subject.Scope), subject.Id);
        writer.WriteEndObject();
        writer.WriteString("granularity", GranularityName(granularity));
        writer.WriteString("tz", zone == TimeZoneInfo.Utc ? "UTC" : zone.Id);
        writer.WriteString("currency", currency);
        writer.WriteStartArray("windows");
        foreach (AggregateWindow window in windows)
        {
            WindowNumbers n = window.Numbers;
            writer.WriteStartObject();
            writer.WriteString("start", TimeText.Format(window.StartMinute * 60_000));
            if (breakdown != Breakdown.None)
            {
                writer.WriteString(BreakdownField(breakdown), GroupValue(breakdown, window.Group));
            }

            WriteNumbers(writer, n);
            writer.WriteString("status", WindowStatusNames.ToWire(window.Status));
            writer.WriteNumber("revision", window.Revision);
            writer.WriteBoolean("final", window.Final);
            if (detail)
            {
                WriteInvalidByReason(writer, n);
                writer.WriteStartArray("rule_versions");
                foreach (string version in window.RuleVersions)
                {
                    writer.WriteStringValue(version);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>A window row's start and every dimension of its key.</summary>
    internal static void WriteWindowKey(Utf8JsonWriter writer, WindowKey key)
    {
        writer.WriteString("start", TimeText.Format(key.Minute * 60_000));
        writer.WriteString("ad_id", key.AdId);
        writer.WriteString("advertiser_id", key.AdvertiserId);
        writer.WriteString("campaign_id", key.CampaignId);
        writer.WriteString("publisher_id", key.PublisherId);
        writer.WriteString("country", key.Country);
        writer.WriteString("device", DeviceNames.ToWire(key.Device));
    }

    /// <summary>A window's numbers, in the contract's order.</summary>
    internal static void WriteNumbers(Utf8JsonWriter writer, WindowNumbers n)
    {
        writer.WriteNumber("received", n.Received);
        writer.WriteNumber("clicks", n.Clicks);
        writer.WriteNumber("spend_micros", n.SpendMicros);
        writer.WriteNumber("unique_users", n.UniqueUsers);
        writer.WriteNumber("invalid_clicks", n.InvalidClicks);
        writer.WriteNumber("duplicate_clicks", n.DuplicateClicks);
        writer.WriteNumber("too_late", n.TooLate);
        writer.WriteNumber("late_clicks", n.LateClicks);
    }

    internal static void WriteInvalidByReason(Utf8JsonWriter writer, WindowNumbers n)
    {
        writer.WriteStartObject("invalid_by_reason");
        writer.WriteNumber(InvalidReasonNames.ToWire(InvalidReason.BadToken), n.InvalidBadToken);
        writer.WriteNumber(InvalidReasonNames.ToWire(InvalidReason.Bot), n.InvalidBot);
        writer.WriteNumber(InvalidReasonNames.ToWire(InvalidReason.Rate), n.InvalidRate);
        writer.WriteNumber(InvalidReasonNames.ToWire(InvalidReason.Unsigned), n.InvalidUnsigned);
        writer.WriteEndObject();
    }

    private static string Csv(IReadOnlyList<AggregateWindow> windows, Breakdown breakdown, bool detail)
    {
        var csv = new StringBuilder("start");
        if (breakdown != Breakdown.None)
        {
            csv.Append(',').Append(BreakdownField(breakdown));
        }

        csv.Append(",received,clicks,spend_micros,unique_users,invalid_clicks,duplicate_clicks,too_late,late_clicks,status,revision,final");
        if (detail)
        {
            csv.Append(",invalid_bad_token,invalid_bot,invalid_rate,invalid_unsigned,rule_versions");
        }

        csv.Append('\n');
        foreach (AggregateWindow window in windows)
        {
            WindowNumbers n = window.Numbers;
            csv.Append(TimeText.Format(window.StartMinute * 60_000));
            if (breakdown != Breakdown.None)
            {
                csv.Append(',').Append(CsvField(GroupValue(breakdown, window.Group)));
            }

            csv.Append(CultureInfo.InvariantCulture, $",{n.Received},{n.Clicks},{n.SpendMicros},{n.UniqueUsers},{n.InvalidClicks},{n.DuplicateClicks},{n.TooLate},{n.LateClicks}")
                .Append(',').Append(WindowStatusNames.ToWire(window.Status))
                .Append(CultureInfo.InvariantCulture, $",{window.Revision},{(window.Final ? "true" : "false")}");
            if (detail)
            {
                csv.Append(CultureInfo.InvariantCulture, $",{n.InvalidBadToken},{n.InvalidBot},{n.InvalidRate},{n.InvalidUnsigned},")
                    .Append(string.Join(' ', window.RuleVersions));
            }

            csv.Append('\n');
        }

        return csv.ToString();
    }

    private static string CsvField(string value) =>
        value.AsSpan().IndexOfAny(",\"\n\r") < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static IResult Realtime(HttpContext context, QueryServices services, bool seedShape)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        string window = Empty(query["window"]) ?? "5m";
        if (!QueryParameters.TryDuration(window, out long windowMs))
        {
            return ApiError.Result(400, "invalid_window", "window must be a duration from 30s to 24h, such as 30s, 5m or 1h.");
        }

        (Subject subject, IResult? notFound) = ResolveSubject(query, caller!, services, allowAdvertiser: false);
        if (notFound is not null)
        {
            return notFound;
        }

        string key = subject.Scope == WindowScope.Ad
            ? RecentActivity.AdKey(subject.Id)
            : RecentActivity.CampaignKey(subject.AdvertiserScope, subject.Id);
        long nowMs = services.Clock.UtcNowMs;
        (long clicks, long spend) = services.Recent.Sum(key, nowMs, windowMs);
        return seedShape
            ? Results.Json(new { clicks, spend }, JsonDefaults.Options)
            : new JsonBody(writer =>
            {
                writer.WriteStartObject();
                writer.WriteStartObject("key");
                writer.WriteString(ScopeField(subject.Scope), subject.Id);
                writer.WriteEndObject();
                writer.WriteString("window", window);
                writer.WriteNumber("clicks", clicks);
                writer.WriteNumber("spend_micros", spend);
                writer.WriteString("as_of", TimeText.Format(nowMs));
                writer.WriteEndObject();
            });
    }

    private static bool TryBreakdown(string? text, out Breakdown breakdown)
    {
        breakdown = text switch
        {
            null or "" => Breakdown.None,
            "country" => Breakdown.Country,
            "device" => Breakdown.Device,
            "publisher_id" => Breakdown.PublisherId,
            "campaign_id" => Breakdown.CampaignId,
            "ad_id" => Breakdown.AdId,
            _ => (Breakdown)(-1),
        };
        return Enum.IsDefined(breakdown);
    }

    internal static string BreakdownField(Breakdown breakdown) => breakdown switch
    {
        Breakdown.Country => "country",
        Breakdown.Device => "device",
        Breakdown.PublisherId => "publisher_id",
        Breakdown.CampaignId => "campaign_id",
        _ => "ad_id",
    };

    private static string GroupValue(Breakdown breakdown, string? group) =>
        breakdown == Breakdown.Device && sbyte.TryParse(group, CultureInfo.InvariantCulture, out sbyte device)
            ? DeviceNames.ToWire((Device)device)
            : group ?? string.Empty;

    internal static string ScopeField(WindowScope scope) => scope switch
    {
        WindowScope.Ad => "ad_id",
        WindowScope.Campaign => "campaign_id",
        _ => "advertiser_id",
    };

    private static string GranularityName(Granularity granularity) => granularity switch
    {
        Granularity.Minute => "minute",
        Granularity.Hour => "hour",
        _ => "day",
    };

    private static long FloorMinute(long ms) => TimeText.FloorToMinuteMs(ms) / 60_000;

    private static long CeilingMinute(long ms) => FloorMinute(ms) + (ms % 60_000 == 0 ? 0 : 1);

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

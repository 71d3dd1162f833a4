using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tollbooth.Core;
using Tollbooth.Ingest;
using Tollbooth.Ingest.Parsing;

namespace Tollbooth.Http;

/// <summary>
/// PUT /v1/advertisers/{advertiser_id} (admin), GET (admin or that advertiser), GET /v1/advertisers (the ids a
/// key may look at), and POST /v1/filters
/// (an advertiser for itself, or an admin).
/// </summary>
public static partial class AdvertiserEndpoints
{
    private const int ListedAdvertisersMax = 1000;

    public static void Map(WebApplication app)
    {
        app.MapPut("/v1/advertisers/{advertiserId}", PutAsync)
            .Doc("Sets an advertiser's time zone, currency and signed-click requirement.", "admin", [200, 400, 401, 403]);
        app.MapGet("/v1/advertisers/{advertiserId}", Get)
            .Doc("An advertiser's settings.", "admin or that advertiser", [200, 401, 403, 404, 429]);
        app.MapGet("/v1/advertisers", List)
            .Doc("The advertisers with counted clicks this key may see (an advertiser key: itself), up to 1000, in order.", "advertiser (own) or admin", [200, 401, 403, 429]);
        app.MapPost("/v1/filters", CreateFilterAsync)
            .Doc("Saves filter fields under a filter_id for filter= in queries.", "advertiser or admin", [201, 400, 401, 403, 429]);
    }

    private static async Task<IResult> PutAsync(HttpContext context, QueryServices services, IngestService ingest, string advertiserId)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, services.Keys);
        if (denied is not null)
        {
            return denied;
        }

        (JsonElement body, IResult? bad) = await JsonText.ReadObjectAsync(context, "{\"time_zone\": \"America/New_York\", \"currency\": \"USD\"}");
        if (bad is not null)
        {
            return bad;
        }

        AdvertiserSettings current = services.SettingsOf(advertiserId);
        string timeZone = current.TimeZone;
        if (body.TryGetProperty("time_zone", out JsonElement zoneValue))
        {
            if (zoneValue.ValueKind != JsonValueKind.String || !QueryParameters.TryZone(zoneValue.GetString(), out TimeZoneInfo zone))
            {
                return ApiError.Result(400, "invalid_time_zone", "time_zone must be an IANA time zone name such as America/New_York or UTC.");
            }

            timeZone = zone == TimeZoneInfo.Utc ? "UTC" : zone.Id;
        }

        string currency = current.Currency;
        if (body.TryGetProperty("currency", out JsonElement currencyValue))
        {
            if (currencyValue.ValueKind != JsonValueKind.String || !CurrencyCode().IsMatch(currencyValue.GetString()!))
            {
                return ApiError.Result(400, "invalid_currency", "currency must be an ISO 4217 code of three capital letters, such as USD or EUR.");
            }

            currency = currencyValue.GetString()!;
        }

        bool requireSigned = current.RequireSignedClicks;
        if (body.TryGetProperty("require_signed_clicks", out JsonElement signedValue))
        {
            if (signedValue.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return ApiError.Result(400, "invalid_require_signed_clicks", "require_signed_clicks must be true or false.");
            }

            requireSigned = signedValue.GetBoolean();
        }

        if (advertiserId.Length is 0 or > 64)
        {
            return ApiError.Result(400, "invalid_advertiser_id", "advertiser_id must be 1 to 64 characters.");
        }

        var settings = new AdvertiserSettings(advertiserId, timeZone, currency, requireSigned);
        services.Settings.PutAdvertiser(settings);
        ingest.Signing.Forget(advertiserId);
        return Results.Json(View(settings), JsonDefaults.Options);
    }

    private static IResult Get(HttpContext context, QueryServices services, string advertiserId)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        if (caller!.Role != ApiKeyRole.Admin && caller.AdvertiserId != advertiserId)
        {
            return AggregateEndpoints.NotFound("advertiser");
        }

        return Results.Json(View(services.SettingsOf(advertiserId)), JsonDefaults.Options);
    }

    private static IResult List(HttpContext context, QueryServices services)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        string? tenant = caller!.Role == ApiKeyRole.Admin ? null : caller.AdvertiserId;
        IReadOnlyList<string> ids = services.Store.AdvertiserIds(tenant, ListedAdvertisersMax);
        return Results.Json(new { advertisers = ids.Select(id => new { advertiser_id = id }) }, JsonDefaults.Options);
    }

    private static async Task<IResult> CreateFilterAsync(HttpContext context, QueryServices services)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        (JsonElement body, IResult? bad) = await JsonText.ReadObjectAsync(context, "{\"campaign_id\": \"c1\", \"country\": \"US\"}");
        if (bad is not null)
        {
            return bad;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty property in body.EnumerateObject())
        {
            if (property.Name is not ("campaign_id" or "publisher_id" or "country" or "device" or "user_id" or "ip"))
            {
                return ApiError.Result(400, "unknown_filter_field", "A saved filter takes campaign_id, publisher_id, country, device, user_id or ip; remove the other fields.");
            }

            if (property.Value.ValueKind != JsonValueKind.String || property.Value.GetString() is not { Length: >= 1 and <= 256 } value)
            {
                return ApiError.Result(400, $"invalid_{property.Name}", $"{property.Name} must be a string of 1 to 256 characters.");
            }

            fields[property.Name] = value;
        }

        if (fields.Count == 0)
        {
            return ApiError.Result(400, "empty_filter", "A saved filter needs at least one of campaign_id, publisher_id, country, device, user_id or ip.");
        }

        string? country = fields.GetValueOrDefault("country");
        if (country is not null && !Countries.TryNormalize(country, out country))
        {
            return ApiError.Result(400, "invalid_country", "country must be an ISO 3166-1 alpha-2 code such as US.");
        }

        Device? device = null;
        if (fields.TryGetValue("device", out string? deviceText))
        {
            if (!DeviceNames.TryParse(deviceText, out Device parsed))
            {
                return ApiError.Result(400, "invalid_device", "device must be one of desktop, mobile, tablet, ctv or other.");
            }

            device = parsed;
        }

        // Like a click's, the IP is kept only as its keyed hash.
        string? ipHash = null;
        if (fields.TryGetValue("ip", out string? ipText))
        {
            if (!System.Net.IPAddress.TryParse(ipText, out System.Net.IPAddress? address))
            {
                return ApiError.Result(400, "invalid_ip", "ip must be an IPv4 or IPv6 address such as 203.0.113.7.");
            }

            ipHash = services.Ips!.Hash(address);
        }

        string filterId = "flt_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
        var filter = new SavedFilter(
            filterId,
            caller!.Role == ApiKeyRole.Admin ? null : caller.AdvertiserId,
            fields.GetValueOrDefault("campaign_id"),
            fields.GetValueOrDefault("publisher_id"),
            country,
            device,
            fields.GetValueOrDefault("user_id"),
            ipHash);
        services.Settings.AddFilter(filter);
        return Results.Json(new { filter_id = filterId }, JsonDefaults.Options, statusCode: 201);
    }

    private static object View(AdvertiserSettings settings) => new
    {
        advertiser_id = settings.AdvertiserId,
        time_zone = settings.TimeZone,
        currency = settings.Currency,
        require_signed_clicks = settings.RequireSignedClicks,
    };

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyCode();
}

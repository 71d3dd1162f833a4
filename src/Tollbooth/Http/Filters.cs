using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Processing;

namespace Tollbooth.Http;

/// <summary>The filter parameters shared by the queries, and saved filters (<c>filter=&lt;id&gt;</c>).</summary>
public static class Filters
{
    public static (DimensionFilter Filter, IResult? Error) Read(IQueryCollection query, ApiKey caller, QueryServices services)
    {
        ISettingsStore settings = services.Settings;
        SavedFilter? saved = null;
        string? filterId = Empty(query["filter"]);
        if (filterId is not null)
        {
            saved = settings.FindFilter(filterId);
            if (saved is null || (caller.Role != ApiKeyRole.Admin && saved.OwnerAdvertiserId != caller.AdvertiserId))
            {
                return (default, ApiError.Result(404, "filter_not_found", "No saved filter with this filter id is visible to this key: create one with POST /v1/filters."));
            }
        }

        // user_id and ip are answered from the raw archive; an ip is compared as the keyed hash ingest stored.
        string? userId = Empty(query["user_id"]);
        if (userId is not null && userId.Length > 128)
        {
            return (default, ApiError.Result(400, "invalid_user_id", "user_id must be at most 128 characters."));
        }

        string? ipText = Empty(query["ip"]);
        if ((userId ?? ipText ?? saved?.UserId ?? saved?.Ip) is not null && (services.RawEvents is null || services.Ips is null))
        {
            return (default, ApiError.Result(400, "filter_not_available", "The user_id and ip filters are answered from the raw archive, which this server does not keep: filter by campaign_id, publisher_id, country or device."));
        }

        string? ipHash = null;
        if (ipText is not null)
        {
            if (!System.Net.IPAddress.TryParse(ipText, out System.Net.IPAddress? address))
            {
                return (default, ApiError.Result(400, "invalid_ip", "ip must be an IPv4 or IPv6 address such as 203.0.113.7."));
            }

            ipHash = services.Ips!.Hash(address);
        }

        // The same normalisation as ingest, so country=us and an unassigned code (stored as ZZ) match.
        string? country = Empty(query["country"]);
        if (country is not null && !Countries.TryNormalize(country, out country))
        {
            return (default, ApiError.Result(400, "invalid_country", "country must be an ISO 3166-1 alpha-2 code such as US."));
        }

        Device? device = null;
        string? deviceText = Empty(query["device"]);
        if (deviceText is not null)
        {
            if (!DeviceNames.TryParse(deviceText, out Device parsed))
            {
                return (default, ApiError.Result(400, "invalid_device", "device must be one of desktop, mobile, tablet, ctv or other."));
            }

            device = parsed;
        }

        var filter = new DimensionFilter(Empty(query["campaign_id"]), Empty(query["publisher_id"]), country, device, userId, ipHash);
        return saved is null ? (filter, null) : Combine(filter, saved);
    }

    private static (DimensionFilter Filter, IResult? Error) Combine(DimensionFilter given, SavedFilter saved)
    {
        string? conflict =
            Conflicts(given.CampaignId, saved.CampaignId) ? "campaign_id" :
            Conflicts(given.PublisherId, saved.PublisherId) ? "publisher_id" :
            Conflicts(given.Country, saved.Country) ? "country" :
            given.Device is not null && saved.Device is not null && given.Device != saved.Device ? "device" :
            Conflicts(given.UserId, saved.UserId) ? "user_id" :
            Conflicts(given.IpHash, saved.Ip) ? "ip" : null;
        if (conflict is not null)
        {
            return (default, ApiError.Result(400, "filter_conflict", $"The saved filter and the query give different values for {conflict}: drop one of them."));
        }

        return (new DimensionFilter(
            given.CampaignId ?? saved.CampaignId,
            given.PublisherId ?? saved.PublisherId,
            given.Country ?? saved.Country,
            given.Device ?? saved.Device,
            given.UserId ?? saved.UserId,
            given.IpHash ?? saved.Ip), null);
    }

    private static bool Conflicts(string? given, string? saved) => given is not null && saved is not null && given != saved;

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

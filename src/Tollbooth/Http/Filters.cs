using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Processing;

namespace Tollbooth.Http;

/// <summary>The filter parameters shared by the queries, and saved filters (<c>filter=&lt;id&gt;</c>).</summary>
public static class Filters
{
    public static (DimensionFilter Filter, IResult? Error) Read(IQueryCollection query, ApiKey caller, ISettingsStore settings)
    {
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

        if (Empty(query["user_id"]) is not null || Empty(query["ip"]) is not null || saved?.UserId is not null || saved?.Ip is not null)
        {
            return (default, ApiError.Result(400, "filter_not_available", "The user_id and ip filters are answered from the raw archive, which this version does not have yet: filter by campaign_id, publisher_id, country or device."));
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

        var filter = new DimensionFilter(Empty(query["campaign_id"]), Empty(query["publisher_id"]), country, device);
        return saved is null ? (filter, null) : Combine(filter, saved);
    }

    private static (DimensionFilter Filter, IResult? Error) Combine(DimensionFilter given, SavedFilter saved)
    {
        string? conflict =
            Conflicts(given.CampaignId, saved.CampaignId) ? "campaign_id" :
            Conflicts(given.PublisherId, saved.PublisherId) ? "publisher_id" :
            Conflicts(given.Country, saved.Country) ? "country" :
            given.Device is not null && saved.Device is not null && given.Device != saved.Device ? "device" : null;
        if (conflict is not null)
        {
            return (default, ApiError.Result(400, "filter_conflict", $"The saved filter and the query give different values for {conflict}: drop one of them."));
        }

        return (new DimensionFilter(
            given.CampaignId ?? saved.CampaignId,
            given.PublisherId ?? saved.PublisherId,
            given.Country ?? saved.Country,
            given.Device ?? saved.Device), null);
    }

    private static bool Conflicts(string? given, string? saved) => given is not null && saved is not null && given != saved;

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

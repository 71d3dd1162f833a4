using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Processing;

namespace Tollbooth.Http;

/// <summary>The pre-aggregated filter parameters shared by the queries.</summary>
public static class Filters
{
    public static (DimensionFilter Filter, IResult? Error) Read(IQueryCollection query)
    {
        if (!string.IsNullOrEmpty(query["user_id"]) || !string.IsNullOrEmpty(query["ip"]))
        {
            return (default, ApiError.Result(400, "filter_not_available", "The user_id and ip filters are answered from the raw archive, which this version does not have yet: filter by campaign_id, publisher_id, country or device."));
        }

        if (!string.IsNullOrEmpty(query["filter"]))
        {
            return (default, ApiError.Result(400, "filter_not_available", "Saved filters are not available in this version yet: pass campaign_id, publisher_id, country or device directly."));
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

        return (new DimensionFilter(Empty(query["campaign_id"]), Empty(query["publisher_id"]), country, device), null);
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

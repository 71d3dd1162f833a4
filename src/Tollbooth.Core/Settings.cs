namespace Tollbooth.Core;

/// <summary>An advertiser's settings: the time zone its hours and days start in, and its currency.</summary>
public sealed record AdvertiserSettings(string AdvertiserId, string TimeZone, string Currency, bool RequireSignedClicks)
{
    public static AdvertiserSettings Default(string advertiserId) => new(advertiserId, "UTC", "USD", false);
}

/// <summary>
/// A saved filter (the seeds' "filter id"): query fields stored once and named by <see cref="FilterId"/>.
/// <see cref="OwnerAdvertiserId"/> is the advertiser whose key made it, or null for an admin's.
/// </summary>
public sealed record SavedFilter(
    string FilterId,
    string? OwnerAdvertiserId,
    string? CampaignId,
    string? PublisherId,
    string? Country,
    Device? Device,
    string? UserId,
    string? Ip);

/// <summary>Advertiser settings and saved filters. Thread-safe.</summary>
public interface ISettingsStore
{
    AdvertiserSettings? FindAdvertiser(string advertiserId);

    void PutAdvertiser(AdvertiserSettings settings);

    void AddFilter(SavedFilter filter);

    SavedFilter? FindFilter(string filterId);
}

using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Query;

/// <summary>
/// Per-ad read model over the stored rows, with tenancy: an advertiser sees only its own ads and campaigns, and
/// another advertiser's looks exactly like an unknown one, in status, body and time taken: both are answered
/// by the same lookups (issue 4's timing class).
/// </summary>
public sealed class AdQueries(IAggregateStore store, AdDirectory ads, IWindowReader? rawEvents = null)
{
    /// <summary>
    /// The advertiser whose rows the caller may read for this ad, or null when the ad is unknown to
    /// the caller (answer 404, the same for unknown and for someone else's).
    /// </summary>
    public string? VisibleOwner(string adId, ApiKey caller)
    {
        string? remembered = ads.OwnerOf(adId);
        if (remembered is not null && Sees(caller, remembered))
        {
            return remembered;
        }

        // Not the caller's as far as ingest remembers: ask the store whether it is known or not, so another
        // advertiser's ad (which ingest may remember) costs the same index probe as an ad nobody has.
        string? stored = store.FindAdvertiserOfAd(adId);
        string? owner = remembered ?? stored;
        return owner is not null && Sees(caller, owner) ? owner : null;
    }

    /// <summary>
    /// True when the caller may read the campaign: it has rows of the caller's advertiser (any, for an admin).
    /// One in-memory lookup, the same for an unknown campaign and for another advertiser's.
    /// </summary>
    public bool CampaignVisible(string campaignId, ApiKey caller) =>
        store.HasRows(WindowScope.Campaign, campaignId, Tenant(caller));

    /// <summary>The advertiser a caller is confined to, or null for an admin.</summary>
    public static string? Tenant(ApiKey caller) => caller.Role == ApiKeyRole.Admin ? null : caller.AdvertiserId;

    /// <summary>Valid clicks of the ad in minutes [fromMinute, toMinute).</summary>
    public long Count(string adId, string owner, long fromMinute, long toMinute, DimensionFilter filter) =>
        toMinute <= fromMinute ? 0 : WindowReaders.For(filter, store, rawEvents).SumClicks(adId, fromMinute, toMinute, filter, owner);

    private static bool Sees(ApiKey caller, string owner) => caller.Role == ApiKeyRole.Admin || caller.AdvertiserId == owner;
}

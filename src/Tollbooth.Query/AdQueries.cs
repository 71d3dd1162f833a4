using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Query;

/// <summary>
/// Per-ad read model over the stored rows, with tenancy: an advertiser sees only its own ads, and
/// another advertiser's ad looks exactly like an unknown one.
/// </summary>
public sealed class AdQueries(IAggregateStore store, AdDirectory ads, IWindowReader? rawEvents = null)
{
    /// <summary>
    /// The advertiser whose rows the caller may read for this ad, or null when the ad is unknown to
    /// the caller (answer 404, the same for unknown and for someone else's).
    /// </summary>
    public string? VisibleOwner(string adId, ApiKey caller)
    {
        string? owner = ads.OwnerOf(adId) ?? store.FindAdvertiserOfAd(adId);
        if (owner is null)
        {
            return null;
        }

        return caller.Role == ApiKeyRole.Admin || caller.AdvertiserId == owner ? owner : null;
    }

    /// <summary>Valid clicks of the ad in minutes [fromMinute, toMinute).</summary>
    public long Count(string adId, string owner, long fromMinute, long toMinute, DimensionFilter filter) =>
        toMinute <= fromMinute ? 0 : WindowReaders.For(filter, store, rawEvents).SumClicks(adId, fromMinute, toMinute, filter, owner);
}

namespace Tollbooth.Core;

/// <summary>Orders window keys by minute, then every dimension (ordinal): the store's key order.</summary>
public sealed class WindowKeyComparer : IComparer<WindowKey>
{
    public static readonly WindowKeyComparer Instance = new();

    public int Compare(WindowKey x, WindowKey y)
    {
        int order = x.Minute.CompareTo(y.Minute);
        if (order == 0) order = string.CompareOrdinal(x.AdId, y.AdId);
        if (order == 0) order = string.CompareOrdinal(x.AdvertiserId, y.AdvertiserId);
        if (order == 0) order = string.CompareOrdinal(x.CampaignId, y.CampaignId);
        if (order == 0) order = string.CompareOrdinal(x.PublisherId, y.PublisherId);
        if (order == 0) order = string.CompareOrdinal(x.Country, y.Country);
        // As bytes: an enum's CompareTo takes an object and boxes both devices.
        if (order == 0) order = ((byte)x.Device).CompareTo((byte)y.Device);
        return order;
    }
}

using Tollbooth.Core;

namespace Tollbooth.Processing;

/// <summary>Which rows a window query sums: one ad, one campaign or one advertiser.</summary>
public enum WindowScope
{
    Ad,
    Campaign,
    Advertiser,
}

/// <summary>The dimension a breakdown (<c>group_by</c>) splits windows by.</summary>
public enum Breakdown
{
    None,
    Country,
    Device,
    PublisherId,
    CampaignId,
    AdId,
}

/// <summary>
/// The rows of one ad, campaign or advertiser in minutes <c>[FromMinute, ToMinute)</c>, with the filter's
/// dimensions ANDed, and only the rows of <see cref="AdvertiserId"/> when it is not null (tenancy).
/// </summary>
public readonly record struct WindowSelector(
    WindowScope Scope,
    string Id,
    long FromMinute,
    long ToMinute,
    DimensionFilter Filter,
    string? AdvertiserId);

/// <summary>
/// One minute (of one breakdown value) summed over the stored rows it covers. <see cref="LeastStatus"/> and
/// <see cref="MostStatus"/> bound the rows' statuses; <see cref="Revision"/> is the sum of their revisions,
/// so it grows with every published change of any of them.
/// </summary>
public sealed class MinuteTotals(long minute, string? group)
{
    public long Minute { get; } = minute;

    public string? Group { get; } = group;

    public WindowNumbers Numbers { get; set; }

    public WindowStatus LeastStatus { get; set; }

    public WindowStatus MostStatus { get; set; }

    public long Revision { get; set; }

    public HyperLogLog Users { get; set; } = new();

    /// <summary>The rule set versions the minute's rows record (none for rows counted before versions existed).</summary>
    public SortedSet<string> RuleVersions { get; } = new(StringComparer.Ordinal);
}

/// <summary>One ad's valid clicks and spend over a range of minutes.</summary>
public readonly record struct AdTotal(string AdId, long Clicks, long SpendMicros);

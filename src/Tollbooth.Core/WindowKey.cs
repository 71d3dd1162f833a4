namespace Tollbooth.Core;

/// <summary>
/// The key of one pre-aggregated row: a one-minute event-time window of one ad, split by the
/// pre-aggregated dimensions. Every key with the same <see cref="AdId"/> is owned by one partition (I2).
/// </summary>
/// <param name="Minute">Window start, minutes since the Unix epoch (UTC).</param>
public readonly record struct WindowKey(
    long Minute,
    string AdId,
    string AdvertiserId,
    string CampaignId,
    string PublisherId,
    string Country,
    Device Device)
{
    public static WindowKey For(Click click) => new(
        Math.DivRem(click.TimestampMs, 60_000L, out long remainder) - (remainder < 0 ? 1 : 0),
        click.AdId,
        click.AdvertiserId,
        click.CampaignId,
        click.PublisherId,
        click.Country,
        click.Device);
}

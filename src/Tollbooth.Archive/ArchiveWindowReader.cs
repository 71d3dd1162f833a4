using System.Globalization;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Archive;

/// <summary>
/// The queries answered from raw events, for the filters window rows cannot answer (<c>user_id</c>,
/// <c>ip</c>): each archived click that matches is counted into its minute with <see cref="WindowRow.Count"/>,
/// the processors' own code. Slower than the stored rows (it reads the archive files of the range), and
/// only as fresh as the last archive flush (<c>Archive:FlushIntervalMs</c>).
/// </summary>
public sealed class ArchiveWindowReader(string root) : IWindowReader
{
    public long SumClicks(string adId, long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId)
    {
        long clicks = 0;
        foreach (ArchiveRecord record in Matching(fromMinute, toMinute, filter, advertiserId))
        {
            if (record.Click.AdId == adId && record.Outcome.Verdict == Verdict.Valid)
            {
                clicks++;
            }
        }

        return clicks;
    }

    public IReadOnlyList<MinuteTotals> ReadMinuteTotals(WindowSelector selector, Breakdown breakdown)
    {
        var rows = new Dictionary<(long Minute, string? Group), (WindowRow Row, MinuteTotals Totals)>();
        foreach (ArchiveRecord record in Matching(selector.FromMinute, selector.ToMinute, selector.Filter, selector.AdvertiserId))
        {
            Click click = record.Click;
            string scoped = selector.Scope switch
            {
                WindowScope.Ad => click.AdId,
                WindowScope.Campaign => click.CampaignId,
                _ => click.AdvertiserId,
            };
            if (scoped != selector.Id)
            {
                continue;
            }

            var key = WindowKey.For(click);
            string? group = breakdown switch
            {
                Breakdown.None => null,
                Breakdown.Country => click.Country,
                Breakdown.Device => ((int)click.Device).ToString(CultureInfo.InvariantCulture),
                Breakdown.PublisherId => click.PublisherId,
                Breakdown.CampaignId => click.CampaignId,
                _ => click.AdId,
            };
            if (!rows.TryGetValue((key.Minute, group), out (WindowRow Row, MinuteTotals Totals) minute))
            {
                // The archive has no window status: the reader's watermark decides it, as for stored rows.
                minute = (new WindowRow(key), new MinuteTotals(key.Minute, group) { LeastStatus = WindowStatus.Open, MostStatus = WindowStatus.Open });
                rows.Add((key.Minute, group), minute);
            }

            record.CountInto(minute.Row);
            if (record.Outcome.RuleVersion.Length > 0)
            {
                minute.Totals.RuleVersions.Add(record.Outcome.RuleVersion);
            }
        }

        foreach ((WindowRow row, MinuteTotals totals) in rows.Values)
        {
            totals.Numbers = WindowNumbers.Of(row);
            totals.Users = row.Users;
        }

        return rows
            .OrderBy(r => r.Key.Minute).ThenBy(r => r.Key.Group, StringComparer.Ordinal)
            .Select(r => r.Value.Totals)
            .ToList();
    }

    public IReadOnlyList<(int Partition, AdTotal Ad)> TopAdsPerPartition(long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId, int count)
    {
        var totals = new Dictionary<(int Partition, string AdId), (long Clicks, long Spend)>();
        foreach (ArchiveRecord record in Matching(fromMinute, toMinute, filter, advertiserId))
        {
            if (record.Outcome.Verdict == Verdict.Valid)
            {
                (long clicks, long spend) = totals.GetValueOrDefault((record.Partition, record.Click.AdId));
                totals[(record.Partition, record.Click.AdId)] = (clicks + 1, spend + record.Click.CostMicros);
            }
        }

        return totals
            .GroupBy(t => t.Key.Partition)
            .SelectMany(p => p
                .OrderByDescending(t => t.Value.Clicks).ThenBy(t => t.Key.AdId, StringComparer.Ordinal).Take(count)
                .Select(t => (p.Key, new AdTotal(t.Key.AdId, t.Value.Clicks, t.Value.Spend))))
            .ToList();
    }

    private IEnumerable<ArchiveRecord> Matching(long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId)
    {
        foreach (ArchiveRecord record in ArchiveScan.Records(root, fromMinute, toMinute))
        {
            Click click = record.Click;
            if ((advertiserId is null || click.AdvertiserId == advertiserId)
                && (filter.CampaignId is null || click.CampaignId == filter.CampaignId)
                && (filter.PublisherId is null || click.PublisherId == filter.PublisherId)
                && (filter.Country is null || click.Country == filter.Country)
                && (filter.Device is null || click.Device == filter.Device)
                && (filter.UserId is null || click.UserId == filter.UserId)
                && (filter.IpHash is null || click.IpHash == filter.IpHash))
            {
                yield return record;
            }
        }
    }
}

// Goal: each partition's top ads over a range of minutes are exactly a plain sort's: most valid clicks first, ties
// by ad id, ads without a valid click left out, the filters and the advertiser applied, only minutes in [from, to).
// Method: seeded random rows of a few dozen ads over three partitions, with many ties (clicks from a small set);
// every count from 1 past the number of ads, several ranges and filters, against LINQ over the committed rows.
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store.Tests;

public sealed class TopAdsTests : IDisposable
{
    private const long FirstMinute = 28_000_000;

    private readonly TempDirectory _directory = new();
    private readonly Random _random;

    public TopAdsTests(ITestOutputHelper output)
    {
        _random = new Random(TestSeed.Next(output));
    }

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Each_partitions_top_ads_are_a_plain_sort_by_clicks_then_ad_id()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false);
        var rows = new List<(int Partition, WindowRow Row)>();
        for (int partition = 0; partition < 3; partition++)
        {
            var keys = new Dictionary<WindowKey, WindowRow>();
            for (int i = 0; i < 120; i++)
            {
                int ad = (_random.Next(12) * 3) + partition;
                var key = new WindowKey(FirstMinute + _random.Next(30), "ad" + ad, "adv" + (ad % 2), "c" + _random.Next(2), "p0", "US", Device.Mobile);
                keys[key] = TestRows.WithClicks(key, _random.Next(4));
            }

            store.Commit(new PartitionCheckpoint(partition, 1, 0), keys.Values.ToList());
            rows.AddRange(keys.Values.Select(row => (partition, row)));
        }

        int checkedCases = 0;
        foreach ((long from, long to) in new[] { (FirstMinute, FirstMinute + 30), (FirstMinute + 7, FirstMinute + 19), (FirstMinute + 40, FirstMinute + 50) })
        {
            foreach ((DimensionFilter filter, string? advertiser) in new[] { (DimensionFilter.None, (string?)null), (new DimensionFilter("c1", null, null, null), null), (DimensionFilter.None, "adv1") })
            {
                for (int count = 1; count <= 14; count++)
                {
                    var expected = rows
                        .Where(r => r.Row.Key.Minute >= from && r.Row.Key.Minute < to
                            && (filter.CampaignId is null || r.Row.Key.CampaignId == filter.CampaignId)
                            && (advertiser is null || r.Row.Key.AdvertiserId == advertiser))
                        .GroupBy(r => (r.Partition, r.Row.Key.AdId))
                        .Select(g => (g.Key.Partition, Ad: new AdTotal(g.Key.AdId, g.Sum(r => r.Row.Clicks), g.Sum(r => r.Row.SpendMicros))))
                        .Where(p => p.Ad.Clicks > 0)
                        .GroupBy(p => p.Partition)
                        .OrderBy(g => g.Key)
                        .SelectMany(g => g.OrderByDescending(p => p.Ad.Clicks).ThenBy(p => p.Ad.AdId, StringComparer.Ordinal).Take(count))
                        .ToList();

                    Assert.Equal(expected, store.TopAdsPerPartition(from, to, filter, advertiser, count));
                    checkedCases++;
                }
            }
        }

        Assert.Equal(3 * 3 * 14, checkedCases);
    }
}

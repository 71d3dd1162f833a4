// Goal: SumClicks adds the valid clicks of one ad over minutes [from, to), ANDing each filter dimension
// that is set and the advertiser restriction, and FindAdvertiserOfAd names an ad's owner. Method: a full
// grid of rows over every dimension value (each with its own click count) is committed next to a second
// ad; every filter combination is checked against a plain LINQ sum over the same rows.
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store.Tests;

public sealed class QueryTests : IDisposable
{
    private const long FirstMinute = 28_000_000;
    private const int Minutes = 6;

    private static readonly string[] s_campaigns = ["c1", "c2"];
    private static readonly string[] s_publishers = ["p1", "p2"];
    private static readonly string[] s_countries = ["", "DE"];
    private static readonly Device[] s_devices = [Device.Unknown, Device.Desktop, Device.Mobile];

    // Filters: "any", every stored value, and one value no row has.
    private static readonly string?[] s_campaignFilters = [null, "c1", "c2", "c9"];
    private static readonly string?[] s_publisherFilters = [null, "p1", "p2", "p9"];
    private static readonly string?[] s_countryFilters = [null, "", "DE", "FR"];
    private static readonly Device?[] s_deviceFilters = [null, Device.Unknown, Device.Desktop, Device.Mobile, Device.Ctv];

    private readonly TempDirectory _directory = new();
    private readonly DuckDbStore _store;
    private readonly List<WindowRow> _rows = new();

    public QueryTests()
    {
        _store = DuckDbStore.Open(_directory.DatabasePath);
        long clicks = 1;
        foreach (string adId in new[] { "ad1", "ad2" })
        {
            foreach (WindowKey key in Grid(adId, adId == "ad1" ? "adv1" : "adv2"))
            {
                _rows.Add(TestRows.WithClicks(key, clicks));
                clicks = (clicks * 3) % 1_000_003;
            }
        }

        _store.Commit(new PartitionCheckpoint(0, 1, 0), _rows.FindAll(row => row.Key.AdId == "ad1"));
        _store.Commit(new PartitionCheckpoint(1, 1, 0), _rows.FindAll(row => row.Key.AdId == "ad2"));
    }

    public void Dispose()
    {
        _store.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public void SumClicks_matches_a_plain_sum_for_every_filter_combination()
    {
        int checkedCombinations = 0;
        foreach (string? campaign in s_campaignFilters)
        {
            foreach (string? publisher in s_publisherFilters)
            {
                foreach (string? country in s_countryFilters)
                {
                    foreach (Device? device in s_deviceFilters)
                    {
                        var filter = new DimensionFilter(campaign, publisher, country, device);
                        long expected = Expected("ad1", FirstMinute, FirstMinute + Minutes, filter, null);
                        Assert.Equal(expected, _store.SumClicks("ad1", FirstMinute, FirstMinute + Minutes, filter, null));
                        checkedCombinations++;
                    }
                }
            }
        }

        Assert.Equal(4 * 4 * 4 * 5, checkedCombinations);
    }

    [Fact]
    public void SumClicks_includes_the_first_minute_and_excludes_the_last()
    {
        long oneMinute = Expected("ad1", FirstMinute + 2, FirstMinute + 3, DimensionFilter.None, null);
        Assert.True(oneMinute > 0);
        Assert.Equal(oneMinute, _store.SumClicks("ad1", FirstMinute + 2, FirstMinute + 3, DimensionFilter.None, null));
        Assert.Equal(0, _store.SumClicks("ad1", FirstMinute + 2, FirstMinute + 2, DimensionFilter.None, null));
        Assert.Equal(0, _store.SumClicks("ad1", FirstMinute + Minutes, FirstMinute + Minutes + 10, DimensionFilter.None, null));
    }

    [Fact]
    public void SumClicks_counts_only_the_asked_ad()
    {
        long ad1 = Expected("ad1", FirstMinute, FirstMinute + Minutes, DimensionFilter.None, null);
        long ad2 = Expected("ad2", FirstMinute, FirstMinute + Minutes, DimensionFilter.None, null);
        Assert.NotEqual(ad1, ad2);
        Assert.Equal(ad1, _store.SumClicks("ad1", FirstMinute, FirstMinute + Minutes, DimensionFilter.None, null));
        Assert.Equal(ad2, _store.SumClicks("ad2", FirstMinute, FirstMinute + Minutes, DimensionFilter.None, null));
        Assert.Equal(0, _store.SumClicks("ad3", FirstMinute, FirstMinute + Minutes, DimensionFilter.None, null));
    }

    [Fact]
    public void SumClicks_restricted_to_an_advertiser_counts_only_that_advertisers_rows()
    {
        var filter = new DimensionFilter("c1", null, "DE", null);
        long owned = Expected("ad1", FirstMinute, FirstMinute + Minutes, filter, "adv1");
        Assert.True(owned > 0);
        Assert.Equal(owned, _store.SumClicks("ad1", FirstMinute, FirstMinute + Minutes, filter, "adv1"));
        Assert.Equal(0, _store.SumClicks("ad1", FirstMinute, FirstMinute + Minutes, filter, "adv2"));
        Assert.Equal(0, _store.SumClicks("ad2", FirstMinute, FirstMinute + Minutes, DimensionFilter.None, "adv1"));
    }

    [Fact]
    public void FindAdvertiserOfAd_names_the_owner_or_null()
    {
        Assert.Equal("adv1", _store.FindAdvertiserOfAd("ad1"));
        Assert.Equal("adv2", _store.FindAdvertiserOfAd("ad2"));
        Assert.Null(_store.FindAdvertiserOfAd("ad3"));
    }

    private long Expected(string adId, long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId)
    {
        return _rows
            .Where(row => row.Key.AdId == adId && row.Key.Minute >= fromMinute && row.Key.Minute < toMinute)
            .Where(row => filter.CampaignId is null || row.Key.CampaignId == filter.CampaignId)
            .Where(row => filter.PublisherId is null || row.Key.PublisherId == filter.PublisherId)
            .Where(row => filter.Country is null || row.Key.Country == filter.Country)
            .Where(row => filter.Device is null || row.Key.Device == filter.Device)
            .Where(row => advertiserId is null || row.Key.AdvertiserId == advertiserId)
            .Sum(row => row.Clicks);
    }

    private static IEnumerable<WindowKey> Grid(string adId, string advertiserId)
    {
        for (long minute = FirstMinute; minute < FirstMinute + Minutes; minute++)
        {
            foreach (string campaign in s_campaigns)
            {
                foreach (string publisher in s_publishers)
                {
                    foreach (string country in s_countries)
                    {
                        foreach (Device device in s_devices)
                        {
                            yield return new WindowKey(minute, adId, advertiserId, campaign, publisher, country, device);
                        }
                    }
                }
            }
        }
    }
}

// Goal: whether a campaign or an advertiser has rows (what decides a 200 or a 404) is answered from memory and is
// always what window_rows holds: right after a commit, after a reopen, after a clear and a replay; a campaign id that
// two advertisers share is known to each of them and to no third one.
// Method: seeded random rows; every answer is compared with a plain LINQ question over the rows the test committed,
// for every (campaign or advertiser, advertiser or none) pair, unknown ids included.
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store.Tests;

public sealed class IdDirectoryTests : IDisposable
{
    private static readonly string[] s_advertisers = ["adv0", "adv1", "adv2", "nobody"];
    private static readonly string[] s_campaigns = ["c0", "c1", "c2", "c3", "unknown"];

    private readonly TempDirectory _directory = new();
    private readonly Random _random;
    private readonly Dictionary<WindowKey, WindowRow> _rows = new();
    private long _position;

    public IdDirectoryTests(ITestOutputHelper output)
    {
        _random = new Random(TestSeed.Next(output));
    }

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Campaigns_and_advertisers_are_known_exactly_when_they_have_rows()
    {
        using (DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false))
        {
            AssertKnownMatchesRows(store);
            CommitRandomRows(store, 3);
            AssertKnownMatchesRows(store);

            // c1 of adv0 and c1 of adv1 are two campaigns with one id: each advertiser sees its own, an advertiser with
            // no rows (random rows never use "nobody") sees neither.
            Commit(store, [Row("c1", "adv0"), Row("c1", "adv1")]);
            AssertKnownMatchesRows(store);
            Assert.True(store.HasRows(WindowScope.Campaign, "c1", "adv1"));
            Assert.False(store.HasRows(WindowScope.Campaign, "c1", "nobody"));
            CommitRandomRows(store, 20);
            AssertKnownMatchesRows(store);
        }

        using (DuckDbStore reopened = DuckDbStore.Open(_directory.DatabasePath, rollInBackground: false))
        {
            AssertKnownMatchesRows(reopened);

            reopened.Clear();
            _rows.Clear();
            AssertKnownMatchesRows(reopened);
            Assert.False(reopened.HasRows(WindowScope.Advertiser, "adv0", null));

            // A replay writes other rows: only those are known.
            CommitRandomRows(reopened, 2);
            AssertKnownMatchesRows(reopened);
        }
    }

    private void AssertKnownMatchesRows(DuckDbStore store)
    {
        foreach (string? tenant in s_advertisers.Append(null))
        {
            foreach (string campaign in s_campaigns)
            {
                bool expected = _rows.Keys.Any(key => key.CampaignId == campaign && (tenant is null || key.AdvertiserId == tenant));
                Assert.True(expected == store.HasRows(WindowScope.Campaign, campaign, tenant), $"campaign {campaign} for {tenant ?? "an admin"}: expected {expected}");
            }

            foreach (string advertiser in s_advertisers)
            {
                bool expected = _rows.Keys.Any(key => key.AdvertiserId == advertiser && (tenant is null || tenant == advertiser));
                Assert.True(expected == store.HasRows(WindowScope.Advertiser, advertiser, tenant), $"advertiser {advertiser} for {tenant ?? "an admin"}: expected {expected}");
            }
        }
    }

    private void CommitRandomRows(DuckDbStore store, int count)
    {
        var rows = new Dictionary<WindowKey, WindowRow>();
        while (rows.Count < count)
        {
            WindowRow row = Row(s_campaigns[_random.Next(s_campaigns.Length - 1)], s_advertisers[_random.Next(s_advertisers.Length - 1)]);
            rows[row.Key] = row;
        }

        Commit(store, rows.Values.ToList());
    }

    private WindowRow Row(string campaign, string advertiser) =>
        TestRows.WithClicks(new WindowKey(28_000_000 + _random.Next(600), "ad" + _random.Next(50), advertiser, campaign, "p0", "US", Device.Mobile), 1 + _random.Next(9));

    private void Commit(DuckDbStore store, List<WindowRow> rows)
    {
        foreach (WindowRow row in rows)
        {
            _rows[row.Key] = row;
        }

        store.Commit(new PartitionCheckpoint(0, ++_position, 0), rows);
    }
}

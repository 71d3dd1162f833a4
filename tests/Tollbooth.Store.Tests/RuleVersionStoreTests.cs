// Goal: every window row and window change keeps the version of the rule set that decided it, a store made
// before versions existed opens with its rows intact and versionless, and the rule sets in force are kept
// by version across a Clear (a replay). Method: a real DuckDB file in a temp directory; the old store is
// made by running only migrations 1 to 3.
using DuckDB.NET.Data;
using Tollbooth.Core;

namespace Tollbooth.Store.Tests;

public sealed class RuleVersionStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void A_row_and_its_change_keep_the_rule_version_that_decided_them()
    {
        var key = new WindowKey(29_000_000, "ad1", "adv1", "c1", "p1", "US", Device.Mobile);
        var row = new WindowRow(key) { Received = 3, Clicks = 3, RuleVersion = "0123456789abcdef", Status = WindowStatus.Closed, Revision = 1 };
        using (DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath))
        {
            store.Commit(new PartitionCheckpoint(0, 3, 1, 1), [row], [new WindowChange(0, 0, row.Clone())]);
        }

        using DuckDbStore reopened = DuckDbStore.Open(_directory.DatabasePath);
        Assert.Equal("0123456789abcdef", reopened.ReadRow(0, key)!.RuleVersion);
        Assert.Equal("0123456789abcdef", Assert.Single(reopened.ReadChanges([0], 10, null)).RuleVersion);
    }

    [Fact]
    public void A_store_made_before_rule_versions_opens_with_its_rows_and_no_version()
    {
        using (var connection = new DuckDBConnection("Data Source=" + _directory.DatabasePath))
        {
            connection.Open();
            using DuckDBCommand command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR NOT NULL);"
                + string.Concat(DuckDbMigrations.All.Where(m => m.Version <= 3).Select(m => m.Sql + $";INSERT INTO schema_version VALUES ({m.Version}, 'old');"))
                + "INSERT INTO window_rows (\"partition\", minute, ad_id, advertiser_id, campaign_id, publisher_id, country, device, received, clicks, "
                + "spend_micros, duplicate_clicks, invalid_bad_token, invalid_bot, invalid_rate, invalid_unsigned, too_late, late_clicks, unique_users, "
                + "users_sketch, status, revision, pending) VALUES (0, 5, 'ad-old', 'adv', '', '', '', 0, 2, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0, "
                + "'\\x00\\x00\\x00'::BLOB, 1, 1, false);";
            command.ExecuteNonQuery();
        }

        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        WindowRow row = Assert.Single(store.ReadAllRows()).Row;
        Assert.Equal(("ad-old", 2L, ""), (row.Key.AdId, row.Clicks, row.RuleVersion));
    }

    [Fact]
    public void Rule_sets_are_kept_by_version_with_their_first_time_in_force_across_a_clear()
    {
        using DuckDbStore store = DuckDbStore.Open(_directory.DatabasePath);
        store.RecordRuleSet("aaaa", "rules a", 100);
        store.RecordRuleSet("bbbb", "rules b", 200);
        store.RecordRuleSet("aaaa", "rules a", 300);
        store.Clear();
        Assert.Equal(
            [new RuleSetRecord("aaaa", "rules a", 100), new RuleSetRecord("bbbb", "rules b", 200)],
            store.ReadRuleSets());
    }
}

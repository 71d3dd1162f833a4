using System.Collections.Concurrent;
using System.Text;
using DuckDB.NET.Data;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// Which campaigns and advertisers have rows, in memory: whether an id is known is then one hash lookup, the same
/// for an id that is unknown and for one that belongs to another advertiser, so a 404 takes the same time either
/// way (issue 4: another's answer 404 exactly as unknown ones do). Asking window_rows instead scanned the table to
/// its end for an unknown id and stopped at the first row of a known one. Filled once at open, extended after every
/// commit under the write lock, emptied by <see cref="Clear"/>; rows are never deleted otherwise. Ads are not kept
/// here (there can be millions): <see cref="FindAdvertiserOfAd"/> asks the ad_id index, one probe either way.
/// </summary>
public sealed partial class DuckDbStore
{
    private readonly ConcurrentDictionary<(string CampaignId, string AdvertiserId), byte> _campaignsByAdvertiser = new();
    private readonly ConcurrentDictionary<string, byte> _campaigns = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _advertisers = new(StringComparer.Ordinal);

    public bool HasRows(WindowScope scope, string id, string? advertiserId)
    {
        switch (scope)
        {
            case WindowScope.Campaign:
                return advertiserId is null ? _campaigns.ContainsKey(id) : _campaignsByAdvertiser.ContainsKey((id, advertiserId));
            case WindowScope.Advertiser:
                return _advertisers.ContainsKey(id) && (advertiserId is null || advertiserId == id);
            default:
                return AdHasRows(id, advertiserId);
        }
    }

    private bool AdHasRows(string adId, string? advertiserId)
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        var sql = new StringBuilder("SELECT 1 FROM window_rows WHERE ad_id = $id");
        DuckDbSql.Add(command, "id", adId);
        AddEquality(command, sql, "advertiser_id", advertiserId);
        command.CommandText = sql.Append(" LIMIT 1").ToString();
        return command.ExecuteScalar() is not null;
    }

    // Called once from Open, before any commit.
    private void LoadDirectory()
    {
        using DuckDBCommand command = DuckDbSql.Command(_writer, "SELECT DISTINCT campaign_id, advertiser_id FROM window_rows");
        using DuckDBDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            Remember(reader.GetString(0), reader.GetString(1));
        }
    }

    /// <summary>After a commit's transaction committed, under the write lock: its rows' campaigns and advertisers are known.</summary>
    private void NoteCommittedIds(IReadOnlyList<WindowRow> rows)
    {
        for (int i = 0; i < rows.Count; i++)
        {
            WindowKey key = rows[i].Key;
            Remember(key.CampaignId, key.AdvertiserId);
        }
    }

    private void Remember(string campaignId, string advertiserId)
    {
        if (!_campaignsByAdvertiser.ContainsKey((campaignId, advertiserId)))
        {
            _campaignsByAdvertiser.TryAdd((campaignId, advertiserId), 0);
            _campaigns.TryAdd(campaignId, 0);
            _advertisers.TryAdd(advertiserId, 0);
        }
    }

    private void ForgetDirectory()
    {
        _campaignsByAdvertiser.Clear();
        _campaigns.Clear();
        _advertisers.Clear();
    }
}

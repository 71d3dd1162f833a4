using System.Collections.Concurrent;

namespace Tollbooth.Core;

/// <summary>
/// Which advertiser owns each ad accepted since this process started (an ad is known once any click
/// for it is accepted, before the processors have counted it). Thread-safe.
/// </summary>
public sealed class AdDirectory
{
    private readonly ConcurrentDictionary<string, string> _owners = new(StringComparer.Ordinal);

    public void Remember(string adId, string advertiserId) => _owners.TryAdd(adId, advertiserId);

    /// <summary>
    /// <see cref="Remember(string, string)"/> for ids held as characters (ingest's record path): an ad already known costs
    /// no string; only an ad seen for the first time makes its two.
    /// </summary>
    public void Remember(ReadOnlySpan<char> adId, ReadOnlySpan<char> advertiserId)
    {
        if (!_owners.GetAlternateLookup<ReadOnlySpan<char>>().ContainsKey(adId))
        {
            _owners.TryAdd(adId.ToString(), advertiserId.ToString());
        }
    }

    public string? OwnerOf(string adId) => _owners.TryGetValue(adId, out string? owner) ? owner : null;
}

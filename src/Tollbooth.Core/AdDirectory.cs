using System.Collections.Concurrent;

namespace Tollbooth.Core;

/// <summary>
/// Which advertiser owns each ad accepted since this process started (an ad is known once any click
/// for it is accepted, before the processors have counted it). Thread-safe.
/// </summary>
public sealed class AdDirectory
{
    private readonly ConcurrentDictionary<string, string> _owners;

    // Made once: ingest looks every accepted click's ad up by its characters.
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _ownersByChars;

    public AdDirectory()
    {
        _owners = new(StringComparer.Ordinal);
        _ownersByChars = _owners.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public void Remember(string adId, string advertiserId) => _owners.TryAdd(adId, advertiserId);

    /// <summary>
    /// <see cref="Remember(string, string)"/> for ids held as characters (ingest's record path): an ad already known costs
    /// no string; only an ad seen for the first time makes its two.
    /// </summary>
    public void Remember(ReadOnlySpan<char> adId, ReadOnlySpan<char> advertiserId)
    {
        if (!_ownersByChars.ContainsKey(adId))
        {
            _owners.TryAdd(adId.ToString(), advertiserId.ToString());
        }
    }

    public string? OwnerOf(string adId) => _owners.TryGetValue(adId, out string? owner) ? owner : null;
}

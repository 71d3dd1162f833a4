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

    public string? OwnerOf(string adId) => _owners.TryGetValue(adId, out string? owner) ? owner : null;
}

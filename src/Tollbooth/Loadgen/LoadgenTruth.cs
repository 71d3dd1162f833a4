namespace Tollbooth.Loadgen;

/// <summary>
/// What the server must count, from what it acknowledged. Every acknowledged copy is received; a click id
/// seen before is a duplicate; of the rest, bots are invalid (<c>bot</c>), tampered links <c>bad_token</c>, and
/// the others reach the rate rule. The rate rule's answer does not depend on log order: each (ad, sender,
/// minute) group of n clicks has max(0, n - limit) invalid, where limit is the lower of the user and IP
/// limits, because every sender has an IP address of its own. Click links all come from loopback with no
/// user, so at most the IP limit of distinct valid links per ad are sent and none is over it.
/// </summary>
public sealed class LoadgenTruth
{
    private readonly object _gate = new();
    private readonly AdTruth[] _ads;
    private readonly Dictionary<(int Ad, int User, long Minute), int> _rateGroups = new();
    private readonly HashSet<string> _linkIds = new(StringComparer.Ordinal);
    private readonly int _rateLimit;
    private ulong[] _seen = new ulong[1024];

    public LoadgenTruth(int ads, int userClicksPerAdPerMinuteMax, int ipClicksPerAdPerMinuteMax)
    {
        _ads = new AdTruth[ads];
        for (int ad = 0; ad < ads; ad++)
        {
            _ads[ad] = new AdTruth();
        }

        int user = userClicksPerAdPerMinuteMax > 0 ? userClicksPerAdPerMinuteMax : int.MaxValue;
        int ip = ipClicksPerAdPerMinuteMax > 0 ? ipClicksPerAdPerMinuteMax : int.MaxValue;
        _rateLimit = Math.Min(user, ip);
        LinkClicksPerAdMax = ip;
    }

    /// <summary>Distinct valid click links one ad may get: all come from one address, loopback.</summary>
    public int LinkClicksPerAdMax { get; }

    /// <summary>Clicks in requests whose answer was lost and that were sent again: the server may hold them twice.</summary>
    public long Uncertain { get; private set; }

    public void Acknowledge(LoadClick click)
    {
        lock (_gate)
        {
            AdTruth ad = _ads[click.Ad];
            ad.Received++;
            if (!FirstTime(click.Sequence))
            {
                ad.Duplicates++;
                return;
            }

            if (click.Kind == LoadClickKind.Bot)
            {
                ad.Bot++;
                return;
            }

            ad.ReachingRate++;
            var group = (click.Ad, click.User, click.TimestampMs / 60_000);
            _rateGroups[group] = _rateGroups.GetValueOrDefault(group) + 1;
        }
    }

    /// <summary>A followed click link: 302 (valid signature) or 403 <c>token_bad_signature</c> (counted <c>bad_token</c>).</summary>
    public void AcknowledgeLink(int adIndex, string clickId, bool badSignature)
    {
        lock (_gate)
        {
            AdTruth ad = _ads[adIndex];
            ad.Received++;
            if (!_linkIds.Add(clickId))
            {
                ad.Duplicates++;
            }
            else if (badSignature)
            {
                ad.BadToken++;
            }
            else
            {
                ad.Links++;
            }
        }
    }

    public void AddUncertain(int clicks)
    {
        lock (_gate)
        {
            Uncertain += clicks;
        }
    }

    /// <summary>The numbers the server must show for each ad, by ad index.</summary>
    public AdCounts[] Expected(Func<int, long> priceMicros)
    {
        lock (_gate)
        {
            var rate = new long[_ads.Length];
            foreach (((int ad, int _, long _), int count) in _rateGroups)
            {
                rate[ad] += Math.Max(0, count - _rateLimit);
            }

            var expected = new AdCounts[_ads.Length];
            for (int ad = 0; ad < _ads.Length; ad++)
            {
                AdTruth t = _ads[ad];
                long clicks = t.ReachingRate - rate[ad] + t.Links;
                expected[ad] = new AdCounts(t.Received, clicks, clicks * priceMicros(ad), t.Duplicates, t.Bot, rate[ad], t.BadToken, 0, 0);
            }

            return expected;
        }
    }

    private bool FirstTime(long sequence)
    {
        long word = sequence >> 6;
        if (word >= _seen.Length)
        {
            Array.Resize(ref _seen, (int)Math.Max(word + 1, _seen.Length * 2L));
        }

        ulong bit = 1UL << (int)(sequence & 63);
        bool first = (_seen[word] & bit) == 0;
        _seen[word] |= bit;
        return first;
    }

    private sealed class AdTruth
    {
        public long Received;
        public long Duplicates;
        public long Bot;
        public long BadToken;
        public long ReachingRate;
        public long Links;
    }
}

using System.Diagnostics;
using System.Threading.RateLimiting;

namespace Tollbooth.Http;

/// <summary>
/// One token bucket per key (a publisher, an address, an advertiser): <c>perSecond</c> tokens added once a second,
/// at most <c>burst</c> held. Built on <see cref="PartitionedRateLimiter"/>, which refills the buckets from one
/// timer and drops a bucket once it has sat full for a while, so keys seen once cost nothing for long.
/// </summary>
internal sealed class TokenBuckets<TKey> : IDisposable
    where TKey : notnull
{
    private readonly PartitionedRateLimiter<TKey> _limiter;

    public TokenBuckets(int perSecond, int burst)
    {
        Debug.Assert(perSecond > 0, "a bucket that never refills is no rate limit");
        Debug.Assert(burst > 0, "a bucket must hold at least one token");
        PerSecond = perSecond;
        Burst = burst;
        var options = new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            // The partitioned limiter refills every bucket from its own timer: one timer, not one per key.
            AutoReplenishment = false,
        };
        Func<TKey, RateLimiter> create = _ => new TokenBucketRateLimiter(options);
        _limiter = PartitionedRateLimiter.Create<TKey, TKey>(key => RateLimitPartition.Get(key, create));
    }

    public int PerSecond { get; }

    public int Burst { get; }

    /// <summary>Takes <paramref name="tokens"/> from the key's bucket: 0 when taken, else the whole seconds (at least 1) until they will be there.</summary>
    public int TryTake(TKey key, int tokens)
    {
        Debug.Assert(tokens >= 1 && tokens <= Burst, "a request may cost at most a full bucket");
        using RateLimitLease lease = _limiter.AttemptAcquire(key, tokens);
        return lease.IsAcquired ? 0 : SecondsUntil(key, tokens);
    }

    /// <summary>0 when the key's bucket holds a token, else the whole seconds until it will; takes nothing.</summary>
    public int SecondsUntilAny(TKey key) => Available(key) > 0 ? 0 : SecondsUntil(key, 1);

    private long Available(TKey key) => _limiter.GetStatistics(key)?.CurrentAvailablePermits ?? 0;

    // Tokens arrive perSecond at a time, the first batch within a second: the ceiling of the deficit over the rate.
    private int SecondsUntil(TKey key, int tokens)
    {
        long missing = Math.Max(1, tokens - Available(key));
        return (int)Math.Max(1, (missing + PerSecond - 1) / PerSecond);
    }

    public void Dispose() => _limiter.Dispose();
}

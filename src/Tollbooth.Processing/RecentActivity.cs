using Tollbooth.Core;

namespace Tollbooth.Processing;

/// <summary>
/// Valid clicks and spend by processing time (when a commit made them queryable), per ad and per
/// campaign, for the realtime view: one-second buckets over the last <see cref="FineSpanSeconds"/> and
/// one-minute buckets over 24 hours. In memory only: a restart starts it empty. Thread-safe.
/// </summary>
public sealed class RecentActivity
{
    public const int FineSpanSeconds = 600;
    public const int CoarseSpanMinutes = 1440;

    private readonly Bucket?[] _seconds = new Bucket[FineSpanSeconds];
    private readonly Bucket?[] _minutes = new Bucket[CoarseSpanMinutes];
    private readonly object _lock = new();

    private sealed class Bucket(long index)
    {
        public long Index { get; } = index;

        public Dictionary<string, (long Clicks, long SpendMicros)> Totals { get; } = new(StringComparer.Ordinal);
    }

    public static string AdKey(string adId) => "a\u0001" + adId;

    /// <summary>One advertiser's campaign, or the campaign of every advertiser when <paramref name="advertiserId"/> is null.</summary>
    public static string CampaignKey(string? advertiserId, string campaignId) =>
        advertiserId is null ? "C\u0001" + campaignId : "c\u0001" + advertiserId + "\u0001" + campaignId;

    /// <summary>Adds one commit's gains at <paramref name="nowMs"/>.</summary>
    public void Record(long nowMs, IReadOnlyList<RecentClicks> gains)
    {
        if (gains.Count == 0)
        {
            return;
        }

        lock (_lock)
        {
            Bucket second = BucketAt(_seconds, nowMs / 1000);
            Bucket minute = BucketAt(_minutes, nowMs / 60_000);
            foreach (RecentClicks gain in gains)
            {
                Add(second, AdKey(gain.Key.AdId), gain);
                Add(minute, AdKey(gain.Key.AdId), gain);
                foreach (string key in (ReadOnlySpan<string>)[CampaignKey(gain.Key.AdvertiserId, gain.Key.CampaignId), CampaignKey(null, gain.Key.CampaignId)])
                {
                    Add(second, key, gain);
                    Add(minute, key, gain);
                }
            }
        }
    }

    /// <summary>
    /// Clicks and spend of <paramref name="key"/> in the last <paramref name="windowMs"/> before
    /// <paramref name="nowMs"/>, the current partial second (or minute, past ten minutes) included.
    /// </summary>
    public (long Clicks, long SpendMicros) Sum(string key, long nowMs, long windowMs)
    {
        bool fine = windowMs <= FineSpanSeconds * 1000L;
        Bucket?[] buckets = fine ? _seconds : _minutes;
        long unitMs = fine ? 1000 : 60_000;
        long last = nowMs / unitMs;
        long first = last - (windowMs / unitMs) + 1;
        long clicks = 0;
        long spend = 0;
        lock (_lock)
        {
            foreach (Bucket? bucket in buckets)
            {
                if (bucket is not null && bucket.Index >= first && bucket.Index <= last && bucket.Totals.TryGetValue(key, out var totals))
                {
                    clicks += totals.Clicks;
                    spend += totals.SpendMicros;
                }
            }
        }

        return (clicks, spend);
    }

    private static Bucket BucketAt(Bucket?[] ring, long index)
    {
        int slot = (int)(index % ring.Length);
        Bucket? bucket = ring[slot];
        if (bucket is null || bucket.Index != index)
        {
            bucket = new Bucket(index);
            ring[slot] = bucket;
        }

        return bucket;
    }

    private static void Add(Bucket bucket, string key, RecentClicks gain)
    {
        bucket.Totals.TryGetValue(key, out var totals);
        bucket.Totals[key] = (totals.Clicks + gain.Clicks, totals.SpendMicros + gain.SpendMicros);
    }
}

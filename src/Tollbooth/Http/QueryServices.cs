using Tollbooth.Core;
using Tollbooth.Processing;
using Tollbooth.Query;

namespace Tollbooth.Http;

/// <summary>What every query endpoint needs, in one service: the stores, the clock and the watermark readers see.</summary>
public sealed class QueryServices(
    IAggregateStore store,
    ISettingsStore settings,
    AdQueries ads,
    AggregateQueries aggregates,
    RecentActivity recent,
    Pipeline pipeline,
    IClock clock,
    KeyRing keys,
    long idleTimeoutMs)
{
    public IAggregateStore Store { get; } = store;

    public ISettingsStore Settings { get; } = settings;

    public AdQueries Ads { get; } = ads;

    public AggregateQueries Aggregates { get; } = aggregates;

    public RecentActivity Recent { get; } = recent;

    public Pipeline Pipeline { get; } = pipeline;

    public IClock Clock { get; } = clock;

    public KeyRing Keys { get; } = keys;

    /// <summary>The raw archive's reader, for <c>user_id</c> and <c>ip</c> filters; null when there is none.</summary>
    public IWindowReader? RawEvents { get; init; }

    /// <summary>Hashes an <c>ip</c> filter the way ingest hashed the clicks' addresses.</summary>
    public Tollbooth.Ingest.Parsing.IpPseudonymizer? Ips { get; init; }

    public int PartitionCount => Pipeline.PartitionCount;

    /// <summary>The global watermark readers see (quiet partitions left out); null before any click.</summary>
    public long? ReaderWatermarkMs() => Pipeline.GlobalWatermarkMs(Clock.UtcNowMs, idleTimeoutMs);

    /// <summary>The advertiser's settings, or the defaults (UTC, USD) when it has none or is unknown.</summary>
    public AdvertiserSettings SettingsOf(string? advertiserId) =>
        advertiserId is null ? AdvertiserSettings.Default(string.Empty) : Settings.FindAdvertiser(advertiserId) ?? AdvertiserSettings.Default(advertiserId);
}

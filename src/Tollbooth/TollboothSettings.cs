using Microsoft.Extensions.Configuration;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth;

/// <summary>
/// Every setting with its default, in one place. Sources, later ones winning: the <c>--config</c> JSON
/// file, environment variables <c>TOLLBOOTH_&lt;SECTION&gt;__&lt;KEY&gt;</c>, then command-line flags.
/// </summary>
public sealed class TollboothSettings
{
    public string Data { get; set; } = "./data";

    public string Urls { get; set; } = "http://127.0.0.1:8080";

    public string Role { get; set; } = "all";

    public string Engine { get; set; } = "stream";

    /// <summary>After SIGTERM, requests in flight get this long to finish (each waits for its fsync); then the processors commit and the process exits.</summary>
    public int ShutdownTimeoutMs { get; set; } = 30_000;

    /// <summary>
    /// The naive engine's database, or a cluster member's store, <c>postgres://user@host:port/database</c>; only with
    /// <c>--engine naive</c> or <c>--role process</c>.
    /// </summary>
    public string? Store { get; set; }

    /// <summary>A cluster member's click log, <c>kafka://HOST:PORT[,HOST:PORT...]/TOPIC</c> (the <c>--log</c> flag); null on one machine.</summary>
    public string? ClusterLog { get; set; }

    public LogSettings Log { get; set; } = new();

    public ProcessingSettings Processing { get; set; } = new();

    public IngestSettings Ingest { get; set; } = new();

    public RulesSettings Rules { get; set; } = new();

    public ArchiveSettings Archive { get; set; } = new();

    public LimitsSettings Limits { get; set; } = new();

    /// <summary>
    /// Layers the sources, later ones winning, after checking each: a name that is no setting or a value of the
    /// wrong type throws <see cref="SettingsException"/> saying which and where it came from.
    /// </summary>
    public static TollboothSettings Load(IReadOnlyDictionary<string, string> flags)
    {
        var builder = new ConfigurationBuilder();
        if (SettingsSources.ConfigFile(flags.GetValueOrDefault("config")) is { } file)
        {
            builder.AddConfiguration(file);
        }

        builder.AddConfiguration(SettingsSources.Environment());
        builder.AddConfiguration(SettingsSources.Flags(flags));
        var settings = new TollboothSettings();
        builder.Build().Bind(settings);
        settings.Validate();
        return settings;
    }

    public AggregatorOptions ToAggregatorOptions() => new()
    {
        WatermarkDelayMs = Processing.WatermarkDelayMs,
        AllowedLatenessMs = Processing.AllowedLatenessMs,
        DedupHorizonMs = Processing.DedupHorizonMs,
        DedupIdsMax = Processing.DedupIdsMax,
        BotUserAgentPatterns = Processing.BotUserAgents ?? AggregatorOptions.DefaultBotUserAgentPatterns,
        UserClicksPerAdPerMinuteMax = Rules.UserClicksPerAdPerMinuteMax,
        IpClicksPerAdPerMinuteMax = Rules.IpClicksPerAdPerMinuteMax,
    };

    public ProcessorOptions ToProcessorOptions(string? dedupSnapshotDirectory, Action<string> warn, RecentActivity? recent = null, Action<int, TimeSpan>? committed = null, IClickArchive? archive = null) => new()
    {
        Archive = archive,
        Recent = recent,
        Committed = committed,
        CommitIntervalMs = Processing.CommitIntervalMs,
        CommitEventsMax = Processing.CommitEventsMax,
        DedupSnapshotDirectory = dedupSnapshotDirectory,
        DedupSnapshotEveryRecords = Processing.DedupSnapshotEveryRecords,
        Warn = warn,
    };

    private void Validate()
    {
        Require(ShutdownTimeoutMs is >= 1 and <= 600_000, "ShutdownTimeoutMs must be between 1 and 600000.");
        Require(Log.Partitions is >= 1 and <= 1024, "Log:Partitions must be between 1 and 1024.");
        Require(Log.SegmentBytesMax >= 1 << 20, "Log:SegmentBytesMax must be at least 1 MiB.");
        Require(Log.SegmentAgeHoursMax is >= 0 and <= 1_000_000, "Log:SegmentAgeHoursMax must be 0 (close segments by size only) or hours up to 1000000.");
        Require(Log.RetentionHours is >= -1 and <= 1_000_000, "Log:RetentionHours must be -1 (keep every segment), 0 (delete as soon as nothing needs it) or hours up to 1000000.");
        Require(Processing.CommitIntervalMs is >= 1 and <= 60_000, "Processing:CommitIntervalMs must be between 1 and 60000.");
        Require(Processing.CommitEventsMax >= 1, "Processing:CommitEventsMax must be at least 1.");
        Require(Processing.IdleTimeoutMs >= 1, "Processing:IdleTimeoutMs must be at least 1.");
        Require(Processing.DedupSnapshotEveryRecords >= 1, "Processing:DedupSnapshotEveryRecords must be at least 1.");
        Require(Processing.WatermarkDelayMs >= 0, "Processing:WatermarkDelayMs must not be negative.");
        Require(Processing.AllowedLatenessMs >= 0, "Processing:AllowedLatenessMs must not be negative.");
        Require(Processing.DedupHorizonMs >= Processing.AllowedLatenessMs, "Processing:DedupHorizonMs must be at least Processing:AllowedLatenessMs.");
        Require(Rules.UserClicksPerAdPerMinuteMax >= 0, "Rules:UserClicksPerAdPerMinuteMax must not be negative (0 turns the check off).");
        Require(Rules.IpClicksPerAdPerMinuteMax >= 0, "Rules:IpClicksPerAdPerMinuteMax must not be negative (0 turns the check off).");
        Require(Archive.FlushRowsMax >= 1, "Archive:FlushRowsMax must be at least 1.");
        Require(Archive.FlushIntervalMs >= 1, "Archive:FlushIntervalMs must be at least 1.");
        Require(Archive.RawRetentionDays >= 1, "Archive:RawRetentionDays must be at least 1.");
        Require(Ingest.ClicksPerRequestMax >= 1, "Ingest:ClicksPerRequestMax must be at least 1.");
        Require(Ingest.BodyBytesMax >= 1024, "Ingest:BodyBytesMax must be at least 1024.");
        Require(
            Log.PendingBytesMax >= 4 * Ingest.BodyBytesMax,
            "Log:PendingBytesMax must be at least 4 times Ingest:BodyBytesMax, so the log can take a whole request at once: raise it or lower Ingest:BodyBytesMax.");
        ValidateLimits();
        Require(Role is "all" or "process", $"--role {Role} is not available yet; run with --role all (the default), or --role process with --log and --store.");
        Require(Role != "process" || (ClusterLog is not null && Store is not null), "--role process needs --log kafka://HOST:PORT/TOPIC and --store postgres://user@host:port/database.");
        Require(Role == "process" || ClusterLog is null, "--log kafka://... is only available with --role process for now (issue 17): ingest and query members are not built yet.");
        Require(Engine is "stream" or "naive", $"--engine {Engine} is not available; run without --engine, or with --engine naive --store postgres://user@host:port/database.");
        Require(Engine != "naive" || !string.IsNullOrEmpty(Store), "--engine naive needs --store postgres://user@host:port/database.");
    }

    private void ValidateLimits()
    {
        Require(Limits.PublisherClicksPerSecond >= 0, "Limits:PublisherClicksPerSecond must not be negative (0 turns the limit off).");
        Require(Limits.PublisherClicksPerSecond == 0 || Limits.PublisherClicksBurst >= Ingest.ClicksPerRequestMax,
            $"Limits:PublisherClicksBurst must be at least Ingest:ClicksPerRequestMax ({Ingest.ClicksPerRequestMax}), or the largest allowed request could never pass.");
        Require(Limits.AddressRequestsPerSecond >= 0, "Limits:AddressRequestsPerSecond must not be negative (0 turns the limit off).");
        Require(Limits.AddressRequestsPerSecond == 0 || Limits.AddressRequestsBurst >= 1, "Limits:AddressRequestsBurst must be at least 1.");
        Require(Limits.AdvertiserQueriesPerSecond >= 0, "Limits:AdvertiserQueriesPerSecond must not be negative (0 turns the limit off).");
        Require(Limits.AdvertiserQueriesPerSecond == 0 || Limits.AdvertiserQueriesBurst >= 1, "Limits:AdvertiserQueriesBurst must be at least 1.");
        Require(Limits.ConnectionsMax >= 0, "Limits:ConnectionsMax must not be negative (0 means no limit).");
        Require(Limits.RequestHeadersTimeoutMs is >= 100 and <= 600_000, "Limits:RequestHeadersTimeoutMs must be between 100 and 600000.");
        Require(Limits.KeepAliveTimeoutMs is >= 100 and <= 3_600_000, "Limits:KeepAliveTimeoutMs must be between 100 and 3600000.");
        Require(Limits.DataBytesPerSecondMin >= 0, "Limits:DataBytesPerSecondMin must not be negative (0 turns the check off).");
        // Kestrel checks data rates once a second, so a grace period of a second or less could never be granted.
        Require(Limits.DataRateGraceMs is > 1000 and <= 600_000, "Limits:DataRateGraceMs must be more than 1000 and at most 600000.");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new SettingsException(message);
        }
    }
}

public sealed class LogSettings
{
    public int Partitions { get; set; } = 8;

    public long SegmentBytesMax { get; set; } = 64L << 20;

    public long PendingBytesMax { get; set; } = 64L << 20;

    /// <summary>
    /// A closed segment is deleted once nothing needs it any more (every record counted, in the dedup snapshot and in
    /// the archive) and it was last written at least this many hours ago; 0 deletes it as soon as nothing needs it,
    /// -1 keeps every segment forever.
    /// </summary>
    public int RetentionHours { get; set; } = 168;

    /// <summary>A segment holding records is closed after this many hours even when not full, so a quiet partition's
    /// records age out too; 0 closes segments by size only.</summary>
    public int SegmentAgeHoursMax { get; set; } = 24;

    /// <summary>The segment age limit for the log's options: null closes by size only.</summary>
    public TimeSpan? SegmentAgeMax() => SegmentAgeHoursMax == 0 ? null : TimeSpan.FromHours(SegmentAgeHoursMax);

    /// <summary>The segment retention for the log's options: null keeps every segment.</summary>
    public TimeSpan? Retention() => RetentionHours < 0 ? null : TimeSpan.FromHours(RetentionHours);
}

public sealed class ProcessingSettings
{
    public int CommitIntervalMs { get; set; } = 250;

    public int CommitEventsMax { get; set; } = 100_000;

    public long WatermarkDelayMs { get; set; } = 10_000;

    public long AllowedLatenessMs { get; set; } = 24 * 3_600_000L;

    public long DedupHorizonMs { get; set; } = 48 * 3_600_000L;

    public long DedupIdsMax { get; set; } = 200_000_000;

    public long DedupSnapshotEveryRecords { get; set; } = 1_000_000;

    public string[]? BotUserAgents { get; set; }

    /// <summary>A partition without new clicks for this long no longer holds back the watermark readers see.</summary>
    public long IdleTimeoutMs { get; set; } = 60_000;

    /// <summary>A cluster's process members: how long the consumer group waits for a silent member before moving its partitions.</summary>
    public int GroupSessionTimeoutMs { get; set; } = 10_000;
}

public sealed class IngestSettings
{
    public int ClicksPerRequestMax { get; set; } = 10_000;

    public long BodyBytesMax { get; set; } = 4L << 20;

    public long FutureSkewMsMax { get; set; } = 5 * 60_000L;
}

/// <summary>The invalid-traffic rate rule (see <see cref="AggregatorOptions"/>): limits per ad per event-time minute.</summary>
public sealed class RulesSettings
{
    public int UserClicksPerAdPerMinuteMax { get; set; } = new AggregatorOptions().UserClicksPerAdPerMinuteMax;

    public int IpClicksPerAdPerMinuteMax { get; set; } = new AggregatorOptions().IpClicksPerAdPerMinuteMax;
}

/// <summary>The raw archive (Parquet files by event hour under DATA/archive).</summary>
public sealed class ArchiveSettings
{
    /// <summary>A partition's buffered clicks are written once this many wait...</summary>
    public int FlushRowsMax { get; set; } = 65_536;

    /// <summary>... or once the oldest has waited this long (and always before a dedup snapshot and at a stop).</summary>
    public long FlushIntervalMs { get; set; } = 60_000;

    /// <summary>Raw events of hours that ended longer ago than this are deleted (the aggregates stay).</summary>
    public int RawRetentionDays { get; set; } = 90;
}

/// <summary>
/// Rate limits per tenant and per source address (token buckets: a steady rate per second and a burst), and the
/// connection limits that cut slow or idle clients. Admin keys pass the rate limits. 0 turns a rate limit off.
/// </summary>
public sealed class LimitsSettings
{
    /// <summary>Clicks a second one publisher may send (a batch of 1,000 costs 1,000), over all its keys and addresses.</summary>
    public int PublisherClicksPerSecond { get; set; } = 100_000;

    /// <summary>Clicks a publisher may send at once after a quiet spell; at least <c>Ingest:ClicksPerRequestMax</c>.</summary>
    public int PublisherClicksBurst { get; set; } = 200_000;

    /// <summary>Requests a second from one source address (an IPv6 /64) to POST /v1/clicks and to click links.</summary>
    public int AddressRequestsPerSecond { get; set; } = 1_000;

    public int AddressRequestsBurst { get; set; } = 2_000;

    /// <summary>Requests a second one advertiser may make with its keys (the queries and anything else an advertiser key may call).</summary>
    public int AdvertiserQueriesPerSecond { get; set; } = 100;

    public int AdvertiserQueriesBurst { get; set; } = 200;

    /// <summary>Open connections at once; a connection over it is closed as soon as it is accepted. 0 means no limit.</summary>
    public int ConnectionsMax { get; set; } = 10_000;

    /// <summary>A request's headers must all arrive within this long, or the connection is closed (against slow-loris clients).</summary>
    public int RequestHeadersTimeoutMs { get; set; } = 10_000;

    /// <summary>An idle keep-alive connection is closed after this long.</summary>
    public int KeepAliveTimeoutMs { get; set; } = 120_000;

    /// <summary>A request body or response slower than this on average (after the grace period) is cut. 0 turns the check off.</summary>
    public int DataBytesPerSecondMin { get; set; } = 240;

    public int DataRateGraceMs { get; set; } = 5_000;
}

/// <summary>A setting is wrong: the message says which and what to use.</summary>
public sealed class SettingsException(string message) : Exception(message);

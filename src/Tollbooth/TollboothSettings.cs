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

    /// <summary>The naive engine's database, <c>postgres://user@host:port/database</c>; only with <c>--engine naive</c>.</summary>
    public string? Store { get; set; }

    public LogSettings Log { get; set; } = new();

    public ProcessingSettings Processing { get; set; } = new();

    public IngestSettings Ingest { get; set; } = new();

    public RulesSettings Rules { get; set; } = new();

    public ArchiveSettings Archive { get; set; } = new();

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

    public ProcessorOptions ToProcessorOptions(string dedupSnapshotDirectory, Action<string> warn, RecentActivity? recent = null, Action<int, TimeSpan>? committed = null, IClickArchive? archive = null) => new()
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
        Require(Role is "all", $"--role {Role} is not available yet; run with --role all (the default).");
        Require(Engine is "stream" or "naive", $"--engine {Engine} is not available; run without --engine, or with --engine naive --store postgres://user@host:port/database.");
        Require(Engine != "naive" || !string.IsNullOrEmpty(Store), "--engine naive needs --store postgres://user@host:port/database.");
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

/// <summary>A setting is wrong: the message says which and what to use.</summary>
public sealed class SettingsException(string message) : Exception(message);

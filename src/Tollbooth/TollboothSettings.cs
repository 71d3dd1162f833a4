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

    /// <summary>The naive engine's database, <c>postgres://user@host:port/database</c>; only with <c>--engine naive</c>.</summary>
    public string? Store { get; set; }

    public LogSettings Log { get; set; } = new();

    public ProcessingSettings Processing { get; set; } = new();

    public IngestSettings Ingest { get; set; } = new();

    public static TollboothSettings Load(IReadOnlyDictionary<string, string> flags)
    {
        var builder = new ConfigurationBuilder();
        if (flags.TryGetValue("config", out string? configFile))
        {
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }

        builder.AddEnvironmentVariables("TOLLBOOTH_");
        var fromFlags = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach ((string name, string value) in flags)
        {
            if (name != "config")
            {
                fromFlags[name.Replace("__", ":")] = value;
            }
        }

        builder.AddInMemoryCollection(fromFlags);
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
    };

    public ProcessorOptions ToProcessorOptions(string dedupSnapshotDirectory, Action<string> warn, RecentActivity? recent = null) => new()
    {
        Recent = recent,
        CommitIntervalMs = Processing.CommitIntervalMs,
        CommitEventsMax = Processing.CommitEventsMax,
        DedupSnapshotDirectory = dedupSnapshotDirectory,
        DedupSnapshotEveryRecords = Processing.DedupSnapshotEveryRecords,
        Warn = warn,
    };

    private void Validate()
    {
        Require(Log.Partitions is >= 1 and <= 1024, "Log:Partitions must be between 1 and 1024.");
        Require(Log.SegmentBytesMax >= 1 << 20, "Log:SegmentBytesMax must be at least 1 MiB.");
        Require(Processing.CommitIntervalMs is >= 1 and <= 60_000, "Processing:CommitIntervalMs must be between 1 and 60000.");
        Require(Processing.CommitEventsMax >= 1, "Processing:CommitEventsMax must be at least 1.");
        Require(Processing.IdleTimeoutMs >= 1, "Processing:IdleTimeoutMs must be at least 1.");
        Require(Processing.DedupSnapshotEveryRecords >= 1, "Processing:DedupSnapshotEveryRecords must be at least 1.");
        Require(Processing.WatermarkDelayMs >= 0, "Processing:WatermarkDelayMs must not be negative.");
        Require(Processing.AllowedLatenessMs >= 0, "Processing:AllowedLatenessMs must not be negative.");
        Require(Processing.DedupHorizonMs >= Processing.AllowedLatenessMs, "Processing:DedupHorizonMs must be at least Processing:AllowedLatenessMs.");
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

/// <summary>A setting is wrong: the message says which and what to use.</summary>
public sealed class SettingsException(string message) : Exception(message);

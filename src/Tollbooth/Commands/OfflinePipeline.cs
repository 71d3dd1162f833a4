using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Commands;

/// <summary>
/// The processors run by a command rather than the service (replay, reconcile): they start as the service
/// would (recovering, archiving what the archive lacks) and run until they have counted the whole log.
/// </summary>
internal static class OfflinePipeline
{
    /// <summary>Runs until caught up or a partition fails; <paramref name="progress"/> gets (processed, ingested) as it goes.</summary>
    /// <returns>The first failure, or null; and the clicks processed and in the log.</returns>
    public static (Exception? Failure, long Processed, long Ingested) Run(
        TollboothSettings settings, DataDirectory data, Action<string> warn, Action<long, long>? progress = null)
    {
        Exception? failure = null;
        RecordRulesInForce(settings, data);
        using var pipeline = new Pipeline(
            data.Log, data.Store, settings.ToAggregatorOptions(),
            settings.ToProcessorOptions(data.DedupSnapshotDirectory, warn, archive: data.OpenArchive(settings.Archive)),
            (_, exception) => failure ??= exception);
        long ingested = pipeline.Ingested;
        pipeline.Start();
        while (!pipeline.IsCaughtUp() && failure is null)
        {
            Thread.Sleep(50);
            progress?.Invoke(pipeline.Processed, ingested);
        }

        pipeline.Stop();
        return (failure, pipeline.Processed, ingested);
    }

    /// <summary>
    /// Records the rule set the processors are about to decide with, so the version each window row names
    /// can always be looked up (<c>rule_sets</c> in the store); a version known already keeps its first time.
    /// </summary>
    public static void RecordRulesInForce(TollboothSettings settings, DataDirectory data)
    {
        AggregatorOptions options = settings.ToAggregatorOptions();
        data.Store.RecordRuleSet(RuleSet.VersionOf(options), RuleSet.CanonicalText(options), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }
}

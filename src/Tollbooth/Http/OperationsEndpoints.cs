using Tollbooth.Core;
using Tollbooth.Log;
using Tollbooth.Processing;

namespace Tollbooth.Http;

/// <summary>GET /v1/status (admin), /health/live and /health/ready (no key).</summary>
public static class OperationsEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/health/live", () => Results.Json(new { status = "live" }, JsonDefaults.Options))
            .Doc("Liveness.", "none", [200]);
        app.MapGet("/health/ready", (Pipeline pipeline) => pipeline.IsRecovered
            ? Results.Json(new { status = "ready" }, JsonDefaults.Options)
            : ApiError.Result(503, "not_ready", "Tollbooth is still recovering its partitions: retry in a moment.", retryAfterSeconds: 1))
            .Doc("Readiness: 503 until every partition has recovered.", "none", [200, 503]);
        app.MapGet("/v1/status", Status)
            .Doc("Ingested, processed, lag and watermarks per partition.", "admin", [200, 401, 403]);
    }

    private static IResult Status(HttpContext context, KeyRing keys, Pipeline pipeline, IClickLog log, QueryServices queries)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        var partitions = new List<object>(pipeline.Processors.Count);
        long ingested = 0;
        long processed = 0;
        foreach (PartitionProcessor processor in pipeline.Processors)
        {
            // Processed first: it never passes the durable end, so lag is never negative.
            long partitionProcessed = processor.CommittedPosition;
            long partitionIngested = log.DurableEnd(processor.Partition);
            ingested += partitionIngested;
            processed += partitionProcessed;
            partitions.Add(new
            {
                id = processor.Partition,
                ingested = partitionIngested,
                processed = partitionProcessed,
                lag = partitionIngested - partitionProcessed,
                watermark = Watermark(processor.WatermarkMs),
            });
        }

        long? global = queries.ReaderWatermarkMs();
        return Results.Json(
            new
            {
                ingested,
                processed,
                lag = ingested - processed,
                watermark = global is long value ? TimeText.Format(value) : null,
                ready = pipeline.IsRecovered,
                partitions,
            },
            JsonDefaults.Options);
    }

    private static string? Watermark(long watermarkMs) => watermarkMs == long.MinValue ? null : TimeText.Format(watermarkMs);
}

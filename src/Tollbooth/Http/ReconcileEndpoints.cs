using System.Text.Json;
using Tollbooth.Archive;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Http;

/// <summary>
/// <c>GET /v1/reconcile</c>: the stored windows of an ad, campaign or advertiser recomputed from the raw
/// archive, each answered <c>matched</c>, <c>differs</c> (with both values) or <c>missing</c> (on one side).
/// The archive trails the stored rows by up to one flush: <c>complete</c> says whether every committed click
/// was archived when the answer was made (if not, a recent window may differ only for that reason).
/// </summary>
public static class ReconcileEndpoints
{
    private const long DefaultSpanMinutes = 24 * 60;
    private const long MaxSpanMinutes = 31 * 24 * 60;

    public static void Map(WebApplication app, string archiveRoot)
    {
        app.MapGet("/v1/reconcile", (HttpContext context, QueryServices services) => Reconcile(context, services, archiveRoot))
            .Doc(
                "Stored windows recomputed from the raw archive: matched, differs or missing, per window.",
                "advertiser (own) or admin",
                [200, 400, 401, 403, 404, 429],
                ("ad_id", "One ad (name exactly one of ad_id, campaign_id, advertiser_id)."),
                ("campaign_id", "One campaign."),
                ("advertiser_id", "One advertiser."),
                ("from", "Start of the range (default: to - 24 h); whole minutes."),
                ("to", "End of the range, exclusive (default: now); at most 31 days after from."));
    }

    private static IResult Reconcile(HttpContext context, QueryServices services, string archiveRoot)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        (AggregateEndpoints.Subject subject, IResult? notFound) = AggregateEndpoints.ResolveSubject(query, caller!, services);
        if (notFound is not null)
        {
            return notFound;
        }

        long nowMs = services.Clock.UtcNowMs;
        if (!QueryParameters.TryTime(query["to"], TimeZoneInfo.Utc, nowMs, out long toMs))
        {
            return QueryParameters.BadTime("to");
        }

        if (!QueryParameters.TryTime(query["from"], TimeZoneInfo.Utc, toMs - (DefaultSpanMinutes * 60_000), out long fromMs))
        {
            return QueryParameters.BadTime("from");
        }

        long fromMinute = TimeText.FloorToMinuteMs(fromMs) / 60_000;
        long toMinute = TimeText.FloorToMinuteMs(toMs) / 60_000;
        if (fromMinute > toMinute)
        {
            return ApiError.Result(400, "invalid_range", "from is after to: send a from at or before to.");
        }

        if (toMinute - fromMinute > MaxSpanMinutes)
        {
            return ApiError.Result(400, "range_too_large", "A reconciliation spans at most 31 days: narrow from and to.");
        }

        // Read the archive's marks before the rows: if every committed position was archived then, the
        // rows read after it cannot hold a click the archive lacks.
        bool complete = Enumerable.Range(0, services.PartitionCount)
            .All(p => ParquetArchive.ReadMark(archiveRoot, p) >= services.Store.ReadCheckpoint(p).NextPosition);
        string? tenant = subject.AdvertiserScope;
        bool Include(WindowKey key) =>
            (tenant is null || key.AdvertiserId == tenant) && subject.Scope switch
            {
                WindowScope.Ad => key.AdId == subject.Id,
                WindowScope.Campaign => key.CampaignId == subject.Id,
                _ => key.AdvertiserId == subject.Id,
            };
        ReconcileReport report = Reconciler.Run(archiveRoot, services.Store.ReadRowsBetween(fromMinute, toMinute), fromMinute, toMinute, include: Include);
        return new JsonBody(writer => Write(writer, subject, fromMinute, toMinute, complete, report));
    }

    private static void Write(Utf8JsonWriter writer, AggregateEndpoints.Subject subject, long fromMinute, long toMinute, bool complete, ReconcileReport report)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("key");
        writer.WriteString(AggregateEndpoints.ScopeField(subject.Scope), subject.Id);
        writer.WriteEndObject();
        writer.WriteString("from", TimeText.Format(fromMinute * 60_000));
        writer.WriteString("to", TimeText.Format(toMinute * 60_000));
        writer.WriteBoolean("complete", complete);
        writer.WriteStartObject("summary");
        writer.WriteNumber("windows", report.WindowsCompared);
        writer.WriteNumber("matched", report.WindowsMatched);
        writer.WriteNumber("differs", report.Windows.Count(w => w.Result == "differs"));
        writer.WriteNumber("missing", report.Windows.Count(w => w.Result == "missing"));
        writer.WriteNumber("too_late", report.TooLate);
        writer.WriteEndObject();
        ILookup<(int, WindowKey), WindowDifference> differences = report.Differences.ToLookup(d => (d.Partition, d.Key));
        writer.WriteStartArray("windows");
        foreach ((int partition, WindowKey key, string result, long tooLate) in report.Windows)
        {
            writer.WriteStartObject();
            AggregateEndpoints.WriteWindowKey(writer, key);
            writer.WriteString("result", result);
            // Archived clicks of this window that were too late: not counted, kept in the archive.
            writer.WriteNumber("too_late", tooLate);
            if (result == "missing")
            {
                writer.WriteString("missing_from", differences[(partition, key)].First().Stored == "missing" ? "store" : "archive");
            }
            else if (result == "differs")
            {
                writer.WriteStartArray("fields");
                foreach (WindowDifference difference in differences[(partition, key)])
                {
                    writer.WriteStartObject();
                    writer.WriteString("field", difference.Field);
                    writer.WriteString("stored", difference.Stored);
                    writer.WriteString("recomputed", difference.Recomputed);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}

using System.Buffers;
using Tollbooth.Core;
using Tollbooth.Ingest;
using Tollbooth.Log;

namespace Tollbooth.Http;

/// <summary>POST /v1/clicks and the seed path POST /events/click: publisher or admin keys.</summary>
public static class ClickEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/v1/clicks", PostAsync)
            .Doc("Accepts clicks (object, array or NDJSON); 202 once durable.", "publisher or admin", [202, 400, 401, 403, 413, 429, 503]);
        app.MapPost("/events/click", PostAsync)
            .Doc("The seeds' click path, the same as POST /v1/clicks.", "publisher or admin", [202, 400, 401, 403, 413, 429, 503]);
    }

    private static async Task<IResult> PostAsync(HttpContext context, KeyRing keys, IngestService ingest, RateLimits limits)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, keys, ApiKeyRole.Publisher);
        if (denied is not null)
        {
            return denied;
        }

        // Admin keys pass (see RateLimits); the publisher's clicks are taken once the body is parsed (IngestService.Admission).
        if (caller!.Role != ApiKeyRole.Admin && (limits.AdmitAddress(context) ?? limits.CheckPublisher(caller)) is { } limited)
        {
            ingest.Counters.CountRefused(RateLimits.Code);
            return limited;
        }

        long bytesMax = ingest.Limits.BodyBytesMax;
        if (context.Request.ContentLength > bytesMax)
        {
            return TooLarge(ingest, bytesMax);
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(context.Request.ContentLength ?? 16_384, bytesMax) + 1);
        try
        {
            int length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > bytesMax)
                    {
                        return TooLarge(ingest, bytesMax);
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, bytesMax + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = await context.Request.Body.ReadAsync(buffer.AsMemory(length));
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            if (length > bytesMax)
            {
                return TooLarge(ingest, bytesMax);
            }

            IngestOutcome outcome = await ingest.IngestAsync(buffer.AsMemory(0, length), context.Request.ContentType, caller.PublisherId);
            if (outcome.Status != 202)
            {
                return ApiError.Result(outcome.Status, outcome.Code!, outcome.Error!, outcome.RetryAfterSeconds ?? (outcome.Status == 503 ? 1 : null));
            }

            if (Failpoints.Enabled && Failpoints.Hit(Failpoints.IngestAfterDurableBeforeAck) == Failpoints.Action.Abort)
            {
                // The clicks are durable; the client never hears so. It must resend, and the resend counts once.
                context.Abort();
                return Results.Empty;
            }

            var rejected = outcome.Rejected.Select(r => new { index = r.Index, error = r.Error, code = r.Code }).ToList();
            return Results.Json(new { accepted = outcome.Accepted, rejected }, JsonDefaults.Options, statusCode: 202);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static IResult TooLarge(IngestService ingest, long bytesMax)
    {
        ingest.Counters.CountRefused("body_too_large");
        return ApiError.Result(413, "body_too_large", $"The body is over {bytesMax} bytes: split the clicks into smaller requests.");
    }
}

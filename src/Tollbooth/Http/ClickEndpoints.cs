using System.Buffers;
using System.Text.Json;
using Tollbooth.Core;
using Tollbooth.Ingest;
using Tollbooth.Ingest.Parsing;
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

            return AcceptedResult.For(outcome.Accepted, outcome.Rejected);
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

    /// <summary>
    /// The 202 body, <c>{"accepted":n,"rejected":[...]}</c>, written as bytes: the common answers (nothing rejected, up
    /// to <see cref="CachedMax"/> accepted) come from cached buffers; the rest are written with a Utf8JsonWriter,
    /// whose default escaping is the serializer's, so the bytes are what Results.Json wrote before.
    /// </summary>
    private sealed class AcceptedResult(byte[] body) : IResult
    {
        private const int CachedMax = 1024;
        private static readonly AcceptedResult?[] s_cached = new AcceptedResult?[CachedMax + 1];

        public static AcceptedResult For(int accepted, IReadOnlyList<Rejection> rejected)
        {
            if (rejected.Count == 0 && (uint)accepted <= CachedMax)
            {
                return s_cached[accepted] ??= new AcceptedResult(Write(accepted, rejected));
            }

            return new AcceptedResult(Write(accepted, rejected));
        }

        public Task ExecuteAsync(HttpContext httpContext)
        {
            HttpResponse response = httpContext.Response;
            response.StatusCode = 202;
            response.ContentType = "application/json; charset=utf-8";
            response.ContentLength = body.Length;
            return response.Body.WriteAsync(body).AsTask();
        }

        private static byte[] Write(int accepted, IReadOnlyList<Rejection> rejected)
        {
            var buffer = new ArrayBufferWriter<byte>(32 + (rejected.Count * 128));
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteNumber("accepted"u8, accepted);
                writer.WriteStartArray("rejected"u8);
                foreach (Rejection rejection in rejected)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("index"u8, rejection.Index);
                    writer.WriteString("error"u8, rejection.Error);
                    writer.WriteString("code"u8, rejection.Code);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            return buffer.WrittenSpan.ToArray();
        }
    }
}

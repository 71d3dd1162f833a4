using Npgsql;
using Tollbooth.Ingest;
using Tollbooth.Ingest.Parsing;

namespace Tollbooth.Naive;

/// <summary>
/// POST /v1/clicks the naive way: the same parsing and validation as Tollbooth's ingest, then, for each
/// accepted click in turn, one committed PostgreSQL transaction on a pooled connection held for the request.
/// </summary>
public sealed class NaiveIngestService(NaiveClickStore store, ClickParser parser, IngestLimits limits)
{
    public IngestLimits Limits => limits;

    public async Task<IngestOutcome> IngestAsync(ReadOnlyMemory<byte> body, string? contentType, string? keyPublisherId)
    {
        ParseOutcome parsed = parser.Parse(body.Span, contentType, keyPublisherId);
        if (parsed.BodyError is { } bodyError)
        {
            return IngestOutcome.Failed(bodyError.Status, bodyError.Code, bodyError.Message);
        }

        try
        {
            await using NpgsqlConnection connection = await store.OpenConnectionAsync();
            foreach (ParsedClick item in parsed.Accepted)
            {
                await NaiveClickStore.RecordAsync(connection, item.Click);
            }
        }
        catch (NpgsqlException)
        {
            // The seed's design has no log to fall back on: what committed before the failure stays counted,
            // the rest is not stored, and a client that retries the request counts the committed ones twice.
            return IngestOutcome.Failed(503, "store_unavailable", "PostgreSQL failed while storing these clicks and some may already be counted: retry later, knowing a retry may count them twice.");
        }

        return IngestOutcome.Succeeded(parsed.Accepted.Count, parsed.Rejections);
    }
}

using System.Globalization;
using System.Text;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Http;

/// <summary>
/// GET /v1/changes: the feed of published window changes. A cursor holds, per partition, the sequence of
/// the next change to read; partitions number their changes from the log alone, so the same log gives the
/// same feed and cursors stay valid across restarts and replays.
/// </summary>
public static class ChangesEndpoints
{
    private const string CursorPrefix = "c1.";

    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/changes", Changes)
            .Doc("Every published window change, in order, with a cursor.", "advertiser (own) or admin", [200, 400, 401, 403, 429], ("since", "A cursor from this feed; absent to start at the beginning."), ("limit", "Changes per page, 1 to 1000 (default 100)."));
    }

    private static IResult Changes(HttpContext context, QueryServices services)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, services.Keys, ApiKeyRole.Advertiser);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        if (!QueryParameters.TryInt(query["limit"], 1, 1000, 100, out int limit))
        {
            return ApiError.Result(400, "invalid_limit", "limit must be a whole number from 1 to 1000.");
        }

        long[]? next = DecodeCursor(query["since"], services.PartitionCount);
        if (next is null)
        {
            return ApiError.Result(400, "invalid_cursor", "since must be a cursor this feed returned (or absent to start from the beginning).");
        }

        string? tenant = caller!.Role == ApiKeyRole.Admin ? null : caller.AdvertiserId;
        IReadOnlyList<StoredChange> changes = services.Store.ReadChanges(next, limit, tenant);
        return new JsonBody(writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("changes");
            foreach (StoredChange change in changes)
            {
                next[change.Partition] = change.Sequence + 1;
                WindowKey key = change.Key;
                WindowNumbers n = change.Numbers;
                writer.WriteStartObject();
                writer.WriteString("cursor", EncodeCursor(next));
                AggregateEndpoints.WriteWindowKey(writer, key);
                writer.WriteString("status", WindowStatusNames.ToWire(change.Status));
                writer.WriteNumber("revision", change.Revision);
                writer.WriteBoolean("final", change.Status >= WindowStatus.Final);
                AggregateEndpoints.WriteNumbers(writer, n);
                AggregateEndpoints.WriteInvalidByReason(writer, n);

                // The rule set that decided the window row at this change (null for rows stored before versions were kept).
                if (change.RuleVersion.Length > 0)
                {
                    writer.WriteString("rule_version", change.RuleVersion);
                }
                else
                {
                    writer.WriteNull("rule_version");
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteString("next_cursor", EncodeCursor(next));
            writer.WriteEndObject();
        });
    }

    public static string EncodeCursor(long[] next)
    {
        string text = string.Join('.', next.Select(n => n.ToString(CultureInfo.InvariantCulture)));
        return CursorPrefix + Convert.ToBase64String(Encoding.ASCII.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The per-partition next sequences of a cursor; zeros when absent; null when it is not one of ours.</summary>
    public static long[]? DecodeCursor(string? cursor, int partitionCount)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return new long[partitionCount];
        }

        if (!cursor.StartsWith(CursorPrefix, StringComparison.Ordinal) || cursor.Length > 4096)
        {
            return null;
        }

        string body = cursor[CursorPrefix.Length..].Replace('-', '+').Replace('_', '/');
        body = body.PadRight(body.Length + ((4 - (body.Length % 4)) % 4), '=');
        Span<byte> bytes = stackalloc byte[body.Length];
        if (!Convert.TryFromBase64String(body, bytes, out int length))
        {
            return null;
        }

        string[] parts = Encoding.ASCII.GetString(bytes[..length]).Split('.');
        if (parts.Length != partitionCount)
        {
            return null;
        }

        var next = new long[partitionCount];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out next[i]))
            {
                return null;
            }
        }

        return next;
    }
}

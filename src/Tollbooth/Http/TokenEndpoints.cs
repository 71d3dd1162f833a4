using System.Net;
using System.Text.Json;
using Tollbooth.Core;
using Tollbooth.Ingest;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Http;

/// <summary>
/// Signed click links: <c>POST /v1/tokens</c> (admin) issues them, <c>GET /v1/click/{token}</c> records the
/// click and redirects, and the admin rotates and retires the keys that sign them.
/// </summary>
public static class TokenEndpoints
{
    private const long TtlSecondsMax = 366L * 24 * 3600;

    public static void Map(WebApplication app)
    {
        app.MapPost("/v1/tokens", IssueAsync)
            .Doc("Issues a signed click token and its click URL.", "admin", [201, 400, 401, 403, 413]);
        app.MapGet("/v1/click/{token}", FollowAsync)
            .Doc("A click link: records the click and answers 302 to the landing URL; 403 when the token does not verify.", "none", [302, 403, 429, 503]);
        app.MapGet("/v1/tokens/keys", ListKeys)
            .Doc("The keys that sign and verify click tokens (ids and dates, never secrets).", "admin", [200, 401, 403]);
        app.MapPost("/v1/tokens/keys", RotateKey)
            .Doc("Makes a new signing key; tokens signed with older keys still verify until those are retired.", "admin", [201, 401, 403]);
        app.MapDelete("/v1/tokens/keys/{key_id}", RetireKey)
            .Doc("Retires a key: tokens it signed stop verifying. The last key cannot be retired.", "admin", [204, 401, 403, 404, 409]);
    }

    private static async Task<IResult> IssueAsync(HttpContext context, KeyRing keys, IngestService ingest)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        (JsonElement body, IResult? bad) = await JsonText.ReadObjectAsync(
            context, "{\"ad_id\": \"ad1\", \"advertiser_id\": \"adv1\", \"landing_url\": \"https://example.com/\"}");
        if (bad is not null)
        {
            return bad;
        }

        if (!Text(body, "ad_id", required: true, 64, out string adId)
            || !Text(body, "advertiser_id", required: true, 64, out string advertiserId)
            || !Text(body, "campaign_id", required: false, 64, out string campaignId)
            || !Text(body, "publisher_id", required: false, 64, out string publisherId))
        {
            return ApiError.Result(400, "invalid_token_field", "ad_id and advertiser_id must be strings of 1 to 64 characters, and campaign_id and publisher_id, when given, too.");
        }

        if (!Text(body, "landing_url", required: true, ClickTokens.LandingUrlLengthMax, out string landingUrl)
            || !Uri.TryCreate(landingUrl, UriKind.Absolute, out Uri? landing) || landing.Scheme is not ("http" or "https"))
        {
            return ApiError.Result(400, "invalid_landing_url", $"landing_url must be an absolute http or https URL of at most {ClickTokens.LandingUrlLengthMax} characters.");
        }

        if (!Number(body, "cost_micros", 0, 0, long.MaxValue, out long costMicros))
        {
            return ApiError.Result(400, "invalid_cost_micros", "cost_micros must be a whole number of at least 0.");
        }

        if (!Number(body, "ttl_seconds", 86_400, 1, TtlSecondsMax, out long ttlSeconds))
        {
            return ApiError.Result(400, "invalid_ttl_seconds", $"ttl_seconds must be a whole number from 1 to {TtlSecondsMax} (366 days).");
        }

        (string token, TokenClaims claims) = ingest.Signing.Tokens.Issue(adId, advertiserId, campaignId, publisherId, costMicros, landingUrl, ttlSeconds * 1000);
        return new JsonBody(
            writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("token", token);
                writer.WriteString("click_url", "/v1/click/" + token);
                writer.WriteString("expires_at", TimeText.Format(claims.ExpiresAtMs));
                writer.WriteString("click_id", claims.ClickId);
                writer.WriteString("key_id", claims.KeyId);
                writer.WriteEndObject();
            },
            201);
    }

    private static async Task<IResult> FollowAsync(HttpContext context, string token, IngestService ingest, IpPseudonymizer ips, IClock clock, RateLimits limits)
    {
        // Before the token is checked: a flood of links, forged or not, costs the address's bucket, not a verification each.
        if (limits.AdmitAddress(context) is { } limited)
        {
            ingest.Counters.CountRefused(RateLimits.Code);
            return limited;
        }

        TokenProblem problem = ingest.Signing.Tokens.Verify(token, out TokenClaims? claims);
        if (claims is null)
        {
            // Nothing in it can be trusted to name an ad: there is no window to count it in.
            return ApiError.Result(403, ClickTokens.CodeOf(problem), ClickTokens.Describe(problem));
        }

        long now = clock.UtcNowMs;
        IPAddress? address = context.Connection.RemoteIpAddress;
        string userAgent = context.Request.Headers.UserAgent.ToString();
        var click = new Click
        {
            ClickId = claims.ClickId,
            AdId = claims.AdId,
            AdvertiserId = claims.AdvertiserId,
            CampaignId = claims.CampaignId,
            PublisherId = claims.PublisherId,
            CostMicros = claims.CostMicros,
            IpHash = address is null ? "" : ips.Hash(address),
            UserAgent = userAgent.Length <= 512 ? userAgent : userAgent[..512],
            TimestampMs = now,
            ReceivedMs = now,
            Token = token,
            Signature = problem == TokenProblem.None ? ClickSignature.Verified : ClickSignature.Bad,
            SignedRequired = ingest.Signing.RequiresSigned(claims.AdvertiserId),
        };
        if (await ingest.RecordAsync(click) is { } failed)
        {
            return ApiError.Result(failed.Status, failed.Code!, failed.Error!, 1);
        }

        return problem == TokenProblem.None
            ? Results.Redirect(claims.LandingUrl)
            : ApiError.Result(403, ClickTokens.CodeOf(problem), ClickTokens.Describe(problem));
    }

    private static IResult ListKeys(HttpContext context, KeyRing keys, IngestService ingest)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        IReadOnlyList<TokenKey> all = ingest.Signing.Tokens.Keys;
        TokenKey? signing = all.LastOrDefault(k => !k.Retired);
        return new JsonBody(writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (TokenKey key in all)
            {
                WriteKey(writer, key, key == signing);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    private static IResult RotateKey(HttpContext context, KeyRing keys, IngestService ingest)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        TokenKey key = ingest.Signing.Tokens.Rotate();
        return new JsonBody(writer => WriteKey(writer, key, signing: true), 201);
    }

    private static IResult RetireKey(HttpContext context, string key_id, KeyRing keys, IngestService ingest)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        ClickTokens tokens = ingest.Signing.Tokens;
        if (!tokens.Keys.Any(k => k.KeyId == key_id && !k.Retired))
        {
            return ApiError.Result(404, "unknown_token_key", "There is no active token key with that id: list them with GET /v1/tokens/keys.");
        }

        return tokens.Retire(key_id)
            ? Results.NoContent()
            : ApiError.Result(409, "last_token_key", "This is the only active token key: make a new one with POST /v1/tokens/keys before retiring it.");
    }

    private static void WriteKey(Utf8JsonWriter writer, TokenKey key, bool signing)
    {
        writer.WriteStartObject();
        writer.WriteString("key_id", key.KeyId);
        writer.WriteString("created_at", TimeText.Format(key.CreatedAt.ToUnixTimeMilliseconds()));
        writer.WriteString("state", key.Retired ? "retired" : signing ? "signing" : "verifying");
        writer.WriteEndObject();
    }

    private static bool Text(JsonElement body, string name, bool required, int lengthMax, out string value)
    {
        value = "";
        if (!body.TryGetProperty(name, out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return !required;
        }

        if (element.ValueKind != JsonValueKind.String || element.GetString() is not { Length: >= 1 } text || text.Length > lengthMax)
        {
            return false;
        }

        value = text;
        return true;
    }

    private static bool Number(JsonElement body, string name, long absent, long min, long max, out long value)
    {
        value = absent;
        if (!body.TryGetProperty(name, out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value) && value >= min && value <= max;
    }
}

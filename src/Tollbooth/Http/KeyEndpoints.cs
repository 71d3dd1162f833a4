using System.Text.Json;
using Tollbooth.Core;

namespace Tollbooth.Http;

/// <summary>POST/GET /v1/keys and DELETE /v1/keys/{key_id}: admin only; GET /v1/me: any key, about itself.</summary>
public static class KeyEndpoints
{
    // One page of keys at most: the list is bounded however many keys were made (issue 8: page sizes are capped).
    private const int KeysPerPageMax = 1000;

    public static void Map(WebApplication app)
    {
        app.MapPost("/v1/keys", CreateAsync)
            .Doc("Makes a key; the secret is shown once.", "admin", [201, 400, 401, 403, 413]);
        app.MapGet("/v1/keys", List)
            .Doc("Lists keys without secrets, in key_id order, a page at a time.", "admin", [200, 400, 401, 403],
                ("limit", $"Keys per page, 1 to {KeysPerPageMax} (default {KeysPerPageMax})."),
                ("after", "The next_after of the previous page; absent for the first page."));
        app.MapDelete("/v1/keys/{keyId}", Delete)
            .Doc("Revokes a key at once.", "admin", [204, 401, 403, 404]);
        app.MapGet("/v1/me", Me)
            .Doc("The calling key itself: its key_id, role and the advertiser or publisher it is bound to.", "any key", [200, 401, 429]);
    }

    // What the dashboard asks first, to know whose numbers it may show; tells the caller nothing but its own key.
    private static IResult Me(HttpContext context, KeyRing keys)
    {
        (ApiKey? caller, IResult? denied) = Caller.Require(context, keys, ApiKeyRole.Advertiser, ApiKeyRole.Publisher);
        if (denied is not null)
        {
            return denied;
        }

        return Results.Json(
            new { key_id = caller!.KeyId, role = Caller.RoleName(caller.Role), advertiser_id = caller.AdvertiserId, publisher_id = caller.PublisherId },
            JsonDefaults.Options);
    }

    private static async Task<IResult> CreateAsync(HttpContext context, KeyRing keys)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        (JsonElement body, IResult? bad) = await JsonText.ReadObjectAsync(context, "{\"role\": \"publisher\", \"publisher_id\": \"pub1\"}");
        if (bad is not null)
        {
            return bad;
        }

        string? role = Text(body, "role");
        string? publisherId = Text(body, "publisher_id");
        string? advertiserId = Text(body, "advertiser_id");
        (ApiKeyRole, string?, string?)? request = role switch
        {
            "admin" => (ApiKeyRole.Admin, null, null),
            "publisher" when IsId(publisherId) => (ApiKeyRole.Publisher, publisherId, null),
            "advertiser" when IsId(advertiserId) => (ApiKeyRole.Advertiser, null, advertiserId),
            _ => null,
        };
        if (request is null)
        {
            return role switch
            {
                "publisher" => ApiError.Result(400, "invalid_publisher_id", "A publisher key needs publisher_id, a string of 1 to 64 characters."),
                "advertiser" => ApiError.Result(400, "invalid_advertiser_id", "An advertiser key needs advertiser_id, a string of 1 to 64 characters."),
                _ => ApiError.Result(400, "invalid_role", "role must be one of admin, publisher or advertiser."),
            };
        }

        (ApiKey key, string secret) = keys.Create(request.Value.Item1, request.Value.Item2, request.Value.Item3);
        return Results.Json(
            new KeyView(key.KeyId, secret, Caller.RoleName(key.Role), key.PublisherId, key.AdvertiserId, TimeText.Format(key.CreatedAt.ToUnixTimeMilliseconds())),
            JsonDefaults.Options,
            statusCode: 201);
    }

    private static IResult List(HttpContext context, KeyRing keys)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        IQueryCollection query = context.Request.Query;
        if (!QueryParameters.TryInt(query["limit"], 1, KeysPerPageMax, KeysPerPageMax, out int limit))
        {
            return ApiError.Result(400, "invalid_limit", $"limit must be a whole number from 1 to {KeysPerPageMax}.");
        }

        // Pages by key_id: a key made or revoked between two pages neither repeats nor hides another key.
        string? after = query["after"];
        List<ApiKey> page = keys.List()
            .Where(k => after is null || string.CompareOrdinal(k.KeyId, after) > 0)
            .OrderBy(k => k.KeyId, StringComparer.Ordinal)
            .Take(limit + 1)
            .ToList();
        string? nextAfter = page.Count > limit ? page[limit - 1].KeyId : null;
        var views = page.Take(limit)
            .Select(k => new KeyView(k.KeyId, null, Caller.RoleName(k.Role), k.PublisherId, k.AdvertiserId, TimeText.Format(k.CreatedAt.ToUnixTimeMilliseconds())))
            .ToList();
        return Results.Json(new { keys = views, next_after = nextAfter }, JsonDefaults.Options);
    }

    private static IResult Delete(HttpContext context, KeyRing keys, string keyId)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        return keys.Delete(keyId)
            ? Results.NoContent()
            : ApiError.Result(404, "key_not_found", $"There is no key with key_id '{Clip(keyId)}': list keys with GET /v1/keys.");
    }

    private static string? Text(JsonElement body, string name) =>
        body.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool IsId(string? value) => value is { Length: >= 1 and <= 64 } && !value.Any(char.IsControl);

    private static string Clip(string value) => value.Length <= 64 ? value : value[..64] + "...";

    private sealed record KeyView(string KeyId, string? Key, string Role, string? PublisherId, string? AdvertiserId, string CreatedAt);
}

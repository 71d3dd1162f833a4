using Tollbooth.Core;

namespace Tollbooth.Http;

/// <summary>Who is calling: the key presented in <c>X-Api-Key</c> or <c>Authorization: Bearer</c>.</summary>
public static class Caller
{
    /// <summary>
    /// The caller's key when it has one of <paramref name="roles"/>; otherwise the 401 or 403 to answer, or the 429
    /// when the key is an advertiser's and its advertiser's rate limit is spent.
    /// </summary>
    public static (ApiKey? Key, IResult? Denied) Require(HttpContext context, KeyRing keys, params ApiKeyRole[] roles)
    {
        string? secret = context.Request.Headers["X-Api-Key"].FirstOrDefault();
        if (string.IsNullOrEmpty(secret))
        {
            string? authorization = context.Request.Headers.Authorization.FirstOrDefault();
            if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                secret = authorization[7..].Trim();
            }
        }

        if (string.IsNullOrEmpty(secret))
        {
            return (null, ApiError.Result(401, "missing_api_key", "This request needs an API key: send it in the X-Api-Key header."));
        }

        ApiKey? key = keys.Authenticate(secret);
        if (key is null)
        {
            return (null, ApiError.Result(401, "unknown_api_key", "The API key is unknown or revoked: ask an admin for a valid key."));
        }

        if (key.Role != ApiKeyRole.Admin && Array.IndexOf(roles, key.Role) < 0)
        {
            return (null, ApiError.Result(403, "forbidden", $"{Words.WithArticle(RoleName(key.Role), capitalized: true)} key may not do this: use a key with the {string.Join(" or ", roles.Select(RoleName).Append("admin"))} role."));
        }

        // Every request an advertiser key makes counts against its advertiser's limit, wherever it is mapped.
        if (context.RequestServices.GetService<RateLimits>()?.AdmitAdvertiser(key) is { } limited)
        {
            return (null, limited);
        }

        return (key, null);
    }

    public static string RoleName(ApiKeyRole role) => role switch
    {
        ApiKeyRole.Admin => "admin",
        ApiKeyRole.Publisher => "publisher",
        ApiKeyRole.Advertiser => "advertiser",
        _ => "unknown",
    };
}

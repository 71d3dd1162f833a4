using Tollbooth.Archive;
using Tollbooth.Core;

namespace Tollbooth.Http;

/// <summary><c>DELETE /v1/users/{user_id}</c> (admin): erases one user's raw events; the aggregates stay as they are.</summary>
public static class UserEndpoints
{
    public static void Map(WebApplication app, ParquetArchive archive)
    {
        app.MapDelete("/v1/users/{user_id}", (HttpContext context, string user_id, KeyRing keys) => Erase(context, user_id, keys, archive))
            .Doc("Erases one user's raw events from the archive (GDPR Article 17); the aggregates stay.", "admin", [200, 400, 401, 403]);
    }

    private static IResult Erase(HttpContext context, string userId, KeyRing keys, ParquetArchive archive)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        if (denied is not null)
        {
            return denied;
        }

        if (userId.Length is 0 or > 128)
        {
            return ApiError.Result(400, "invalid_user_id", "user_id must be 1 to 128 characters.");
        }

        long erased = archive.EraseUser(userId);
        return new JsonBody(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("user_id", userId);
            writer.WriteNumber("erased_events", erased);
            writer.WriteEndObject();
        });
    }
}

using Tollbooth.Dashboard;

namespace Tollbooth.Http;

/// <summary>
/// GET / and GET /dashboard/{name}: the dashboard's page and its files, from the program itself. They carry
/// no data and need no key: the page asks the API with the key the user signs in with.
/// </summary>
public static class DashboardEndpoints
{
    // Only this origin's scripts, styles and API: no CDN, no inline script, never framed.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static void Map(WebApplication app)
    {
        app.MapGet("/", (HttpContext context) => Serve(context, DashboardAssets.IndexName))
            .Doc("The dashboard page; /#key=<key> signs in at once.", "none", [200]);
        app.MapGet("/dashboard/{name}", (HttpContext context, string name) => Serve(context, name))
            .Doc("A script, style or image of the dashboard.", "none", [200, 304, 404]);
    }

    private static IResult Serve(HttpContext context, string name)
    {
        DashboardAsset? asset = DashboardAssets.Find(name);
        if (asset is null)
        {
            return ApiError.Result(404, "not_found", "There is no dashboard file with this name: open / for the dashboard.");
        }

        IHeaderDictionary headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        // Revalidated on every load, so an upgraded program never runs with an old script.
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        if (context.Request.Headers.IfNoneMatch.Contains(asset.ETag))
        {
            return Results.StatusCode(304);
        }

        return Results.Bytes(asset.Content, asset.ContentType);
    }
}

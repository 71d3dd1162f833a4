using System.Reflection;
using System.Security.Cryptography;

namespace Tollbooth.Dashboard;

/// <summary>
/// The dashboard's files, read once from this assembly's embedded resources: the page needs nothing from
/// outside the program (no CDN, no fonts), so whatever serves Tollbooth's API serves its dashboard too.
/// </summary>
public static class DashboardAssets
{
    private const string Prefix = "dashboard/";

    private static readonly Lazy<IReadOnlyDictionary<string, DashboardAsset>> s_assets = new(Load);

    /// <summary>The page itself, served at <c>/</c>.</summary>
    public const string IndexName = "index.html";

    /// <summary>Every file name, such as <c>app.js</c> or <c>style.css</c>.</summary>
    public static IEnumerable<string> Names => s_assets.Value.Keys;

    /// <summary>The file with this name, or null when there is none (names are exact, without folders).</summary>
    public static DashboardAsset? Find(string name) => s_assets.Value.TryGetValue(name, out DashboardAsset? asset) ? asset : null;

    private static IReadOnlyDictionary<string, DashboardAsset> Load()
    {
        Assembly assembly = typeof(DashboardAssets).Assembly;
        var assets = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] content = copy.ToArray();
            string name = resource[Prefix.Length..];
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content))[..16] + "\"";
            assets.Add(name, new DashboardAsset(name, content, ContentTypeOf(name), etag));
        }

        return assets;
    }

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}

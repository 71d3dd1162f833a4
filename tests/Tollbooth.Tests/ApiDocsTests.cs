// Goal: docs/api.md, the project's own API reference, stays true with the code (issue 19): every route the
// program maps is listed in its Endpoints table, and every endpoint listed there is mapped. Method: read the
// route table the program serves as /openapi.json (built from the mapped endpoints, as the tenancy tests
// use it) from a running `tollbooth serve`, and compare it, as "METHOD /path" pairs, with the table's rows.
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tollbooth.Tests;

public sealed partial class ApiDocsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Every_mapped_route_is_in_docs_api_md_and_every_documented_endpoint_is_mapped()
    {
        (HttpStatusCode status, JsonElement document) = await fixture.Admin.GetAsync("/openapi.json", key: string.Empty);
        Assert.Equal(HttpStatusCode.OK, status);
        var mapped = new SortedSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (JsonProperty operation in path.Value.EnumerateObject())
            {
                mapped.Add($"{operation.Name.ToUpperInvariant()} {path.Name}");
            }
        }

        string docs = File.ReadAllText(Path.Combine(TollboothProcess.RepositoryRoot(), "docs", "api.md"));
        string table = docs[docs.IndexOf("\n## Endpoints\n", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("\n## ", 2, StringComparison.Ordinal)];
        var documented = new SortedSet<string>(EndpointRow().Matches(table).Select(m => m.Groups[1].Value), StringComparer.Ordinal);

        Assert.True(mapped.Count > 20, $"the route table holds only {mapped.Count} routes");
        Assert.True(mapped.SetEquals(documented),
            $"mapped but not in docs/api.md: {string.Join(", ", mapped.Except(documented))}; in docs/api.md but not mapped: {string.Join(", ", documented.Except(mapped))}");
    }

    [Fact]
    public void The_readme_links_the_reference_inside_the_repository()
    {
        string root = TollboothProcess.RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Assert.DoesNotContain("../shared/", readme, StringComparison.Ordinal);
        foreach (string doc in (string[])["docs/api.md", "docs/architecture.md"])
        {
            Assert.Contains($"({doc})", readme, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(root, doc)), $"{doc} is linked but missing");
        }
    }

    [GeneratedRegex(@"^\| `((?:GET|POST|PUT|DELETE|PATCH) /[^`]*)` \|", RegexOptions.Multiline)]
    private static partial Regex EndpointRow();
}

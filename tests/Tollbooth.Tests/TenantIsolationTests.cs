// Goal: tenant isolation checked from the route table itself, so a new endpoint is covered without
// anyone remembering: every GET endpoint of /openapi.json (built from the mapped routes) times every id
// parameter it takes, asked by another advertiser with the owner's id and with an unknown id, must
// answer byte for byte the same; the owner gets 200; a publisher key gets the same 403 for both.
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class TenantIsolationTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly string[] s_idParameters = ["ad_id", "campaign_id", "advertiser_id", "filter", "key_id"];

    private TollboothClient Admin => fixture.Admin;

    private async Task<(HttpStatusCode Status, string Body)> Get(string path, string key)
    {
        using HttpResponseMessage response = await Admin.SendAsync(HttpMethod.Get, path, key: key);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Another_tenants_id_answers_byte_for_byte_like_an_unknown_one_on_every_endpoint()
    {
        string suffix = Guid.NewGuid().ToString("N")[..8];
        var own = new Dictionary<string, string>
        {
            ["ad_id"] = "iso-ad-" + suffix,
            ["campaign_id"] = "iso-camp-" + suffix,
            ["advertiser_id"] = "iso-adv-" + suffix,
        };
        var unknown = own.ToDictionary(p => p.Key, p => "nobody-" + p.Value);
        string minute = DateTimeOffset.UtcNow.AddMinutes(-3).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        string click = JsonSerializer.Serialize(new { ad_id = own["ad_id"], advertiser_id = own["advertiser_id"], campaign_id = own["campaign_id"], timestamp = minute });
        using (HttpResponseMessage sent = await Admin.PostClicksAsync(click))
        {
            Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        }

        await Admin.WaitForLagZeroAsync();
        string owner = await Admin.CreateKeyAsync("advertiser", own["advertiser_id"]);
        string stranger = await Admin.CreateKeyAsync("advertiser", "iso-stranger-" + suffix);
        string publisher = await Admin.CreateKeyAsync("publisher", "iso-pub-" + suffix);
        using (HttpResponseMessage filter = await Admin.SendAsync(HttpMethod.Post, "/v1/filters", "{\"country\": \"US\"}", key: owner))
        {
            own["filter"] = (await TollboothClient.JsonOf(filter)).GetProperty("filter_id").GetString()!;
            unknown["filter"] = "flt_00000000000000000000";
        }

        (HttpStatusCode _, string document) = await Get("/openapi.json", string.Empty);
        JsonElement paths = JsonDocument.Parse(document).RootElement.GetProperty("paths");
        int checkedCases = 0;
        foreach (JsonProperty path in paths.EnumerateObject())
        {
            if (!path.Value.TryGetProperty("get", out JsonElement operation))
            {
                continue;
            }

            string[] parameters = operation.GetProperty("parameters").EnumerateArray()
                .Select(p => p.GetProperty("name").GetString()!).Where(s_idParameters.Contains).ToArray();
            foreach (string parameter in parameters.Where(own.ContainsKey))
            {
                string ownPath = Path(path.Name, parameter, own[parameter], own["ad_id"]);
                string otherPath = Path(path.Name, parameter, unknown[parameter], own["ad_id"]);
                (HttpStatusCode ownStatus, string ownBody) = await Get(ownPath, owner);
                Assert.True(ownStatus == HttpStatusCode.OK, $"{ownPath} answered the owner {(int)ownStatus}: {ownBody}");

                (HttpStatusCode strangerStatus, string strangerBody) = await Get(ownPath, stranger);
                (HttpStatusCode unknownStatus, string unknownBody) = await Get(otherPath, stranger);
                Assert.DoesNotContain(own["advertiser_id"], strangerBody);
                Assert.True(
                    strangerStatus == unknownStatus && strangerBody == unknownBody,
                    $"{path.Name} with another tenant's {parameter} answered {(int)strangerStatus} {strangerBody}, but an unknown one {(int)unknownStatus} {unknownBody}");

                (HttpStatusCode publisherOwn, string publisherOwnBody) = await Get(ownPath, publisher);
                (HttpStatusCode publisherUnknown, string publisherUnknownBody) = await Get(otherPath, publisher);
                Assert.Equal(HttpStatusCode.Forbidden, publisherOwn);
                Assert.True(publisherOwn == publisherUnknown && publisherOwnBody == publisherUnknownBody, $"{path.Name}: a publisher key tells an existing {parameter} from an unknown one.");
                checkedCases++;
            }
        }

        // Every query endpoint with an id: aggregated_count (2 paths), aggregates (3 ids x 2), realtime (2 ids x 2), advertisers, filters on the rest.
        Assert.True(checkedCases >= 15, $"only {checkedCases} endpoint and id combinations were found in /openapi.json");
    }

    // The path with the id under test in place, and every other required parameter valid.
    private static string Path(string template, string parameter, string value, string ownAd)
    {
        string path = template.Replace("{ad_id}", parameter == "ad_id" ? value : ownAd).Replace("{advertiser_id}", value);
        bool keyed = path.Contains("aggregates", StringComparison.Ordinal);
        string query = parameter switch
        {
            "filter" => $"filter={Uri.EscapeDataString(value)}" + (keyed ? $"&ad_id={ownAd}" : string.Empty),
            _ when template.Contains('{') => string.Empty,
            _ => $"{parameter}={Uri.EscapeDataString(value)}",
        };
        if (path.Contains("realtime", StringComparison.Ordinal))
        {
            query += "&window=1h";
        }

        return query.Length == 0 ? path : $"{path}?{query.TrimStart('&')}";
    }
}

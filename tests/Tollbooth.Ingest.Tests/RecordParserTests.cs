// Goal: the record parser ingest runs gives, for every body, what the reference parser (ClickParser) gives: the same
// whole-body error, the same rejections in the same order, the same accepted count, and for each accepted click
// exactly the log record ClickCodec.Encode writes after ClickSigning.Judge, in the same partition and order; and it
// does so without allocating per click.
// Method: both parsers over every saved fuzz input (as JSON and as NDJSON), over thousands of seeded random bodies
// (valid and invalid fields, escapes, non-ASCII text, repeated names, deep nesting, truncations, flipped bytes) and
// over bodies with real tokens and a publisher key; outcomes compared as text, records as hex.
using System.Text;
using System.Text.Json;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Ingest.Tests;

public sealed class RecordParserTests
{
    private const string Json = "application/json";
    private const string Ndjson = "application/x-ndjson";

    private static readonly IngestLimits s_limits = new() { ClicksPerRequestMax = 5, BodyBytesMax = 64 * 1024 };

    [Fact]
    public void The_record_parser_gives_the_same_outcome_and_bytes_as_the_reference_parser_on_every_saved_fuzz_input()
    {
        var pair = new ParserPair(new IngestLimits { ClicksPerRequestMax = 64, BodyBytesMax = 64 * 1024 });
        string corpus = Path.Combine(RepositoryRoot(), "fuzz", "corpus");
        string[] files = [.. Directory.GetFiles(Path.Combine(corpus, "json")), .. Directory.GetFiles(Path.Combine(corpus, "ndjson"))];
        Assert.True(files.Length > 100, $"Only {files.Length} saved fuzz inputs under {corpus}.");
        foreach (string file in files)
        {
            byte[] body = File.ReadAllBytes(file);
            foreach (string contentType in (string[])[Json, Ndjson])
            {
                foreach (string? key in (string?[])[null, "pub-k"])
                {
                    (string expected, string actual) = pair.Both(body, contentType, key);
                    Assert.True(expected == actual, $"{Path.GetFileName(file)} as {contentType}, key publisher {key ?? "none"}:\nreference:\n{expected}\nrecord parser:\n{actual}");
                }
            }
        }
    }

    [Fact]
    public void The_record_parser_gives_the_same_outcome_and_bytes_as_the_reference_parser_on_thousands_of_random_bodies()
    {
        int seed = Seed();
        var pair = new ParserPair(s_limits);
        var bodies = new ClickBodies(seed);
        var reached = new HashSet<string>(StringComparer.Ordinal);
        int accepted = 0;
        for (int i = 0; i < 6000; i++)
        {
            bool ndjson = i % 2 == 1;
            byte[] body = bodies.Next(ndjson);
            string contentType = (i % 4) switch { 0 => Json, 1 => Ndjson, 2 => "application/json; charset=utf-8", _ => "Application/NDJSON" };
            string? key = i % 3 == 0 ? "pub1" : null;
            (string expected, string actual) = pair.Both(body, contentType, key);
            Assert.True(expected == actual, $"seed {seed} (TOLLBOOTH_TEST_SEED), body {i} as {contentType}, key publisher {key ?? "none"}: {Encoding.UTF8.GetString(body)}\nreference:\n{expected}\nrecord parser:\n{actual}");
            accepted += Reach(expected, reached);
        }

        // The comparison proves little unless the bodies reach every verdict: each code, and many accepted clicks.
        string[] codes =
        [
            "invalid_json", "too_many_clicks", "invalid_body", "invalid_click_id", "invalid_ad_id", "missing_ad_id", "invalid_campaign_id",
            "invalid_advertiser_id", "missing_advertiser_id", "invalid_publisher_id", "publisher_mismatch", "invalid_user_id", "invalid_ip",
            "invalid_country", "invalid_device", "invalid_user_agent", "invalid_timestamp", "timestamp_in_future", "invalid_cost_micros",
            "invalid_token", "not_an_object", "field name",
        ];
        Assert.All(codes, code => Assert.True(reached.Contains(code), $"seed {seed}: no random body reached {code}."));
        Assert.True(accepted > 1000, $"seed {seed}: only {accepted} random clicks were accepted.");
    }

    [Fact]
    public void Clicks_with_tokens_and_a_publisher_key_get_the_same_verdicts_click_ids_and_records_as_the_reference()
    {
        int seed = Seed();
        var random = new Random(seed);
        var pair = new ParserPair(s_limits);
        var issued = new List<(string Token, TokenClaims Claims)>();
        for (int i = 0; i < 6; i++)
        {
            issued.Add(pair.Tokens.Issue("ad" + i, i % 2 == 0 ? "adv1" : "signed-adv", i % 3 == 0 ? "" : "camp1", i % 2 == 0 ? "" : "pub1", i % 4 == 0 ? 0 : 1500, "https://example.com/", 60_000));
        }

        pair.Clock.UtcNowMs = ParserPair.Now - 3_600_000;
        issued.Add(pair.Tokens.Issue("ad1", "adv1", "", "", 0, "https://example.com/", 60_000));
        pair.Clock.UtcNowMs = ParserPair.Now;
        issued.Add((issued[0].Token[..^2] + (issued[0].Token[^1] == 'A' ? "BB" : "AA"), issued[0].Claims));

        var bodies = new ClickBodies(seed, issued.Select(t => t.Token).ToList());
        int verified = 0;
        for (int i = 0; i < 3000; i++)
        {
            byte[] body = i % 2 == 0 ? bodies.Next(ndjson: i % 4 == 1) : SignedClicks(random, issued);
            string? key = (i % 3) switch { 0 => null, 1 => "pub1", _ => "pub-k" };
            (string expected, string actual) = pair.Both(body, i % 4 == 1 ? Ndjson : Json, key);
            Assert.True(expected == actual, $"seed {seed} (TOLLBOOTH_TEST_SEED), body {i}, key publisher {key ?? "none"}: {Encoding.UTF8.GetString(body)}\nreference:\n{expected}\nrecord parser:\n{actual}");
            verified += expected.Contains(Convert.ToHexString(Encoding.UTF8.GetBytes("tok:")), StringComparison.Ordinal) ? 1 : 0;
        }

        Assert.True(verified > 100, $"seed {seed}: only {verified} bodies had a click whose token verified, so the signed path was hardly compared.");
    }

    // An array of clicks that carry a token with the token's own fields, or with one of them changed or left out.
    private static byte[] SignedClicks(Random random, List<(string Token, TokenClaims Claims)> issued)
    {
        var items = new List<string>();
        for (int i = random.Next(1, 5); i > 0; i--)
        {
            (string token, TokenClaims claims) = issued[random.Next(issued.Count)];
            string Field(string name, string value) => random.Next(8) switch
            {
                0 => "",
                1 => $"\"{name}\":\"{value}x\",",
                _ => $"\"{name}\":\"{value}\",",
            };
            string cost = random.Next(6) == 0 ? "" : $"\"cost_micros\":{(random.Next(8) == 0 ? claims.CostMicros + 1 : claims.CostMicros)},";
            items.Add("{" + Field("campaign_id", claims.CampaignId) + Field("publisher_id", claims.PublisherId) + cost
                + (random.Next(3) == 0 ? "\"click_id\":\"own-id\"," : "") + (random.Next(3) == 0 ? "\"ip\":\"203.0.113.9\",\"user_id\":\"u1\"," : "")
                + $"\"ad_id\":\"{claims.AdId}\",\"advertiser_id\":\"{claims.AdvertiserId}\",\"token\":\"{token}\"}}");
        }

        return Encoding.UTF8.GetBytes("[" + string.Join(",", items) + "]");
    }

    [Theory]
    [InlineData("{\"ad_id\":\"first\",\"advertiser_id\":\"b\",\"ad_id\":\"last\"}", "last")]
    [InlineData("{\"ad_id\":\"first\",\"advertiser_id\":\"b\",\"ad\\u005fid\":\"escaped\"}", "escaped")]
    [InlineData("{\"ad\\u005fid\":\"escaped\",\"advertiser_id\":\"b\",\"ad_id\":\"plain\"}", "plain")]
    public void A_repeated_field_takes_its_last_value_as_JsonDocument_does(string body, string adId)
    {
        using (JsonDocument document = JsonDocument.Parse(body))
        {
            Assert.Equal(adId, document.RootElement.GetProperty("ad_id").GetString());
        }

        var pair = new ParserPair(s_limits);
        (string expected, string actual) = pair.Both(Encoding.UTF8.GetBytes(body), Json, null);
        Assert.Equal(expected, actual);
        Assert.Contains(Convert.ToHexString(Encoding.UTF8.GetBytes(adId)), actual, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"ad_\\ud800\":1}", "invalid_json")]
    [InlineData("{\"ad_\\ud800\":1,\"ad_id\":\"a\",\"advertiser_id\":\"b\"}", "accepted")]
    [InlineData("{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"zz\\ud800\":1}", "accepted")]
    [InlineData("{\"ad_id\":\"a\\ud800\",\"advertiser_id\":\"b\"}", "invalid_ad_id")]
    public void A_lone_surrogate_escape_fails_an_item_only_where_the_reference_lookup_throws(string body, string verdict)
    {
        var pair = new ParserPair(s_limits);
        (string expected, string actual) = pair.Both(Encoding.UTF8.GetBytes(body), Json, null);
        Assert.Equal(expected, actual);
        Assert.Contains(verdict == "accepted" ? "accepted 1" : "0 rejected " + verdict, actual, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_of_a_thousand_clicks_allocates_nothing_per_click()
    {
        var pair = new ParserPair(new IngestLimits());
        var text = new StringBuilder("[");
        for (int i = 0; i < 1000; i++)
        {
            text.Append(i == 0 ? "" : ",").Append("{\"ad_id\":\"ad").Append(i % 97).Append("\",\"advertiser_id\":\"adv").Append(i % 7)
                .Append("\",\"user_id\":\"u").Append(i).Append("\",\"ip\":\"203.0.113.").Append(i % 256)
                .Append("\",\"country\":\"us\",\"device\":\"mobile\",\"user_agent\":\"Mozilla/5.0 \\u00e9\",\"timestamp\":").Append(ParserPair.Now - i).Append('}');
        }

        byte[] body = Encoding.UTF8.GetBytes(text.Append(']').ToString());
        long Allocated()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            using ClickRecords records = pair.Records.Parse(body, Json, null, ParserPair.PartitionCount);
            Assert.Equal(1000, records.Accepted);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Allocated();
        long allocated = Allocated();
        Assert.True(allocated < 2_000, $"Parsing 1,000 clicks allocated {allocated} bytes: more than a request's constant share.");
    }

    // Notes the codes an outcome holds (and whether an invalid_json item is a bad field name); returns its accepted count.
    private static int Reach(string outcome, HashSet<string> reached)
    {
        foreach (string line in outcome.Split('\n'))
        {
            string[] words = line.Split(' ');
            if (words.Length > 2 && words[1] is "rejected" or "invalid_json:" or "too_many_clicks:" or "invalid_body:")
            {
                reached.Add((words[1] == "rejected" ? words[2] : words[1]).TrimEnd(':'));
                if (line.Contains("field name", StringComparison.Ordinal))
                {
                    reached.Add("field name");
                }
            }
        }

        return outcome.StartsWith("accepted ", StringComparison.Ordinal) ? int.Parse(outcome.AsSpan(9, outcome.IndexOf('\n') - 9), System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    private static int Seed()
    {
        string? fixedSeed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED");
        return fixedSeed is not null ? int.Parse(fixedSeed, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
    }

    private static string RepositoryRoot()
    {
        DirectoryInfo? root = new(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Tollbooth.slnx")))
        {
            root = root.Parent;
        }

        Assert.True(root is not null, $"No Tollbooth.slnx above {AppContext.BaseDirectory}.");
        return root!.FullName;
    }
}

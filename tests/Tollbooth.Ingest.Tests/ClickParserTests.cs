// Goal: the click parser applies API.md's rules item by item: each rejection names its index, a stable
// code and one sentence; valid items of the same body are kept in order; whole-body problems are one
// error; ids are derived when absent; IPs never leave the parser in clear. A seeded fuzz run shows the
// parser never throws and every item ends accepted or rejected with a known code.
using System.Net;
using System.Text;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;

namespace Tollbooth.Ingest.Tests;

public sealed class ClickParserTests
{
    private const long Now = 1_795_000_000_000;

    private sealed class FixedClock(long nowMs) : IClock
    {
        public long UtcNowMs => nowMs;
    }

    private static readonly byte[] s_key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static ClickParser Parser(int clicksMax = 100, long bodyMax = 1 << 20) =>
        new(new IngestLimits { ClicksPerRequestMax = clicksMax, BodyBytesMax = bodyMax }, new FixedClock(Now), new IpPseudonymizer(s_key));

    private static ParseOutcome Parse(string body, string contentType = "application/json", string? publisher = null, ClickParser? parser = null) =>
        (parser ?? Parser()).Parse(Encoding.UTF8.GetBytes(body), contentType, publisher);

    private static string Valid(string extra = "", string ad = "ad1") => $"{{\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"timestamp\":{Now - 1000}{extra}}}";

    private static Rejection SingleRejection(string body, string? publisher = null)
    {
        ParseOutcome outcome = Parse(body, publisher: publisher);
        Assert.Null(outcome.BodyError);
        Assert.Empty(outcome.Accepted);
        Rejection rejection = Assert.Single(outcome.Rejections);
        AssertSentence(rejection.Error);
        return rejection;
    }

    private static void AssertSentence(string error)
    {
        Assert.False(string.IsNullOrWhiteSpace(error));
        Assert.EndsWith(".", error);
        Assert.DoesNotContain("Exception", error);
        Assert.DoesNotContain("Tollbooth.", error);
    }

    [Fact]
    public void Valid_click_is_accepted_with_its_fields()
    {
        ParseOutcome outcome = Parse(Valid(",\"click_id\":\"c-1\",\"campaign_id\":\"camp\",\"country\":\"us\",\"device\":\"mobile\",\"cost_micros\":250"));
        Assert.True(outcome.Rejections.Count == 0, string.Join("; ", outcome.Rejections));
        Click click = Assert.Single(outcome.Accepted).Click;
        Assert.Equal("c-1", click.ClickId);
        Assert.Equal("camp", click.CampaignId);
        Assert.Equal("US", click.Country);
        Assert.Equal(Device.Mobile, click.Device);
        Assert.Equal(250, click.CostMicros);
        Assert.Equal(Now - 1000, click.TimestampMs);
    }

    [Theory]
    [InlineData("{\"advertiser_id\":\"adv1\"}", "missing_ad_id")]
    [InlineData("{\"ad_id\":\"ad1\"}", "missing_advertiser_id")]
    [InlineData("{\"ad_id\":\"\",\"advertiser_id\":\"adv1\"}", "invalid_ad_id")]
    [InlineData("{\"ad_id\":7,\"advertiser_id\":\"adv1\"}", "invalid_ad_id")]
    public void Missing_or_malformed_required_field_is_rejected(string body, string code) =>
        Assert.Equal(code, SingleRejection(body).Code);

    [Theory]
    [InlineData(",\"click_id\":\"bad id!\"", "invalid_click_id")]
    [InlineData(",\"campaign_id\":\"\"", "invalid_campaign_id")]
    [InlineData(",\"publisher_id\":5", "invalid_publisher_id")]
    [InlineData(",\"ip\":\"999.1.1.1\"", "invalid_ip")]
    [InlineData(",\"country\":\"usa\"", "invalid_country")]
    [InlineData(",\"device\":\"toaster\"", "invalid_device")]
    [InlineData(",\"cost_micros\":-1", "invalid_cost_micros")]
    [InlineData(",\"cost_micros\":1.5", "invalid_cost_micros")]
    [InlineData(",\"token\":42", "invalid_token")]
    public void Malformed_optional_field_is_rejected_with_its_code(string extra, string code) =>
        Assert.Equal(code, SingleRejection(Valid(extra)).Code);

    [Fact]
    public void Over_long_ids_are_rejected_at_the_documented_lengths()
    {
        Assert.Single(Parse(Valid(ad: new string('a', 64))).Accepted);
        Assert.Equal("invalid_ad_id", SingleRejection(Valid(ad: new string('a', 65))).Code);
        Assert.Single(Parse(Valid($",\"click_id\":\"{new string('c', 128)}\"")).Accepted);
        Assert.Equal("invalid_click_id", SingleRejection(Valid($",\"click_id\":\"{new string('c', 129)}\"")).Code);
    }

    [Fact]
    public void Timestamp_up_to_five_minutes_ahead_is_accepted_and_beyond_is_rejected()
    {
        string At(long ms) => $"{{\"ad_id\":\"ad1\",\"advertiser_id\":\"adv1\",\"timestamp\":{ms}}}";
        Assert.Single(Parse(At(Now + 300_000)).Accepted);
        Assert.Equal("timestamp_in_future", SingleRejection(At(Now + 300_001)).Code);
        Assert.Equal("invalid_timestamp", SingleRejection("{\"ad_id\":\"ad1\",\"advertiser_id\":\"adv1\",\"timestamp\":\"yesterday\"}").Code);
    }

    [Fact]
    public void Rfc3339_timestamps_with_fractions_and_offsets_are_read_as_utc()
    {
        Click click = Assert.Single(Parse("{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"timestamp\":\"2026-11-10T11:04:00.250+01:00\"}").Accepted).Click;
        Assert.Equal(DateTimeOffset.Parse("2026-11-10T10:04:00.250Z").ToUnixTimeMilliseconds(), click.TimestampMs);
    }

    [Fact]
    public void Publisher_key_stamps_its_publisher_and_rejects_another()
    {
        Assert.Equal("pub1", Assert.Single(Parse(Valid(), publisher: "pub1").Accepted).Click.PublisherId);
        Assert.Equal("publisher_mismatch", SingleRejection(Valid(",\"publisher_id\":\"pub2\""), publisher: "pub1").Code);
    }

    [Fact]
    public void Mixed_array_keeps_valid_items_in_order_and_reports_each_rejection_by_index()
    {
        ParseOutcome outcome = Parse($"[{Valid(",\"click_id\":\"a\"")},42,{{\"ad_id\":\"x\"}},{Valid(",\"click_id\":\"b\"")}]");
        Assert.Equal([0, 3], outcome.Accepted.Select(a => a.Index));
        Assert.Equal(["a", "b"], outcome.Accepted.Select(a => a.Click.ClickId));
        Assert.Equal([(1, "not_an_object"), (2, "missing_advertiser_id")], outcome.Rejections.Select(r => (r.Index, r.Code)));
    }

    [Fact]
    public void Ndjson_index_is_the_line_number_counting_blank_lines()
    {
        ParseOutcome outcome = Parse($"{Valid()}\n\n{{broken\n{Valid(",\"device\":\"toaster\"")}\n{Valid(",\"click_id\":\"z\"")}\n", "application/x-ndjson");
        Assert.Equal([0, 4], outcome.Accepted.Select(a => a.Index));
        Assert.Equal([(2, "invalid_json"), (3, "invalid_device")], outcome.Rejections.Select(r => (r.Index, r.Code)));
    }

    [Theory]
    [InlineData("", "application/json", 400, "empty_body")]
    [InlineData("   \n ", "application/json", 400, "empty_body")]
    [InlineData("{\"ad_id\":", "application/json", 400, "invalid_json")]
    [InlineData("\"just a string\"", "application/json", 400, "invalid_body")]
    [InlineData("ad_id=1", "application/x-www-form-urlencoded", 400, "unsupported_media_type")]
    public void Whole_body_problems_are_one_error(string body, string contentType, int status, string code)
    {
        ParseOutcome outcome = Parse(body, contentType);
        Assert.NotNull(outcome.BodyError);
        Assert.Equal(status, outcome.BodyError!.Status);
        Assert.Equal(code, outcome.BodyError.Code);
        AssertSentence(outcome.BodyError.Message);
    }

    [Fact]
    public void Too_many_clicks_and_too_large_bodies_answer_413()
    {
        string three = $"[{Valid()},{Valid()},{Valid()}]";
        Assert.Equal("too_many_clicks", Parse(three, parser: Parser(clicksMax: 2)).BodyError?.Code);
        Assert.Equal(413, Parse(three, parser: Parser(clicksMax: 2)).BodyError?.Status);
        Assert.Null(Parse(three, parser: Parser(clicksMax: 3)).BodyError);
        Assert.Equal("body_too_large", Parse(three, parser: Parser(bodyMax: three.Length - 1)).BodyError?.Code);
    }

    [Fact]
    public void Derived_click_id_is_the_same_for_the_same_click_and_differs_otherwise()
    {
        string Id(string body) => Assert.Single(Parse(body).Accepted).Click.ClickId;
        string a = Id(Valid(",\"user_id\":\"u1\",\"ip\":\"203.0.113.7\""));
        Assert.Equal(a, Id(Valid(",\"user_id\":\"u1\",\"ip\":\"203.0.113.7\"")));
        Assert.NotEqual(a, Id(Valid(",\"user_id\":\"u2\",\"ip\":\"203.0.113.7\"")));
        Assert.NotEqual(a, Id(Valid(",\"user_id\":\"u1\",\"ip\":\"203.0.113.8\"")));
        Assert.NotEqual(a, Id(Valid(",\"user_id\":\"u1\",\"ip\":\"203.0.113.7\"", ad: "ad2")));
        Assert.Equal("given", Id(Valid(",\"click_id\":\"given\"")));
    }

    [Fact]
    public void Ip_is_kept_only_as_a_keyed_hash()
    {
        Click click = Assert.Single(Parse(Valid(",\"ip\":\"203.0.113.7\"")).Accepted).Click;
        Assert.DoesNotContain("203.0.113.7", click.IpHash);
        var sameKey = new IpPseudonymizer(s_key);
        var otherKey = new IpPseudonymizer(new byte[32]);
        Assert.Equal(sameKey.Hash(IPAddress.Parse("203.0.113.7")), click.IpHash);
        Assert.NotEqual(otherKey.Hash(IPAddress.Parse("203.0.113.7")), click.IpHash);

        // One address written two ways is one address.
        Assert.Equal(sameKey.Hash(IPAddress.Parse("2001:db8::1")), sameKey.Hash(IPAddress.Parse("2001:0db8:0:0:0:0:0:1")));
    }

    [Fact]
    public void Random_mutations_of_valid_bodies_never_throw_and_every_item_gets_an_outcome()
    {
        int seed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED") is { } fixedSeed ? int.Parse(fixedSeed) : Random.Shared.Next();
        var random = new Random(seed);
        string[] fields = [",\"click_id\":\"c1\"", ",\"ip\":\"::1\"", ",\"country\":\"fr\"", ",\"device\":\"ctv\"", ",\"cost_micros\":99", ",\"user_agent\":\"x\""];
        const string alphabet = "{}[]\",:0123456789abc\\ \n-.e";
        for (int run = 0; run < 5_000; run++)
        {
            var items = Enumerable.Range(0, random.Next(1, 6)).Select(_ => Valid(fields[random.Next(fields.Length)])).ToList();
            char[] body = ("[" + string.Join(',', items) + "]").ToCharArray();
            for (int m = random.Next(0, 4); m > 0; m--)
            {
                body[random.Next(body.Length)] = alphabet[random.Next(alphabet.Length)];
            }

            ParseOutcome outcome;
            try
            {
                outcome = Parse(new string(body), random.Next(2) == 0 ? "application/json" : "application/x-ndjson");
            }
            catch (Exception exception)
            {
                Assert.Fail($"seed {seed}, run {run}: the parser threw {exception.GetType().Name} on {new string(body)}");
                return;
            }

            if (outcome.BodyError is not null)
            {
                Assert.True(outcome.BodyError.Code is "invalid_json" or "invalid_body" or "empty_body", $"seed {seed}, run {run}: {outcome.BodyError.Code}");
                continue;
            }

            var indexes = outcome.Accepted.Select(a => a.Index).Concat(outcome.Rejections.Select(r => r.Index)).ToList();
            Assert.True(indexes.Count == indexes.Distinct().Count(), $"seed {seed}, run {run}: an item got two outcomes.");
            Assert.All(outcome.Rejections, r => Assert.Matches("^[a-z_]+$", r.Code));
            Assert.All(outcome.Rejections, r => AssertSentence(r.Error));
        }
    }
}

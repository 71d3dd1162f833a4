using System.Text.Json;
using Tollbooth.Archive;
using Tollbooth.Core;

namespace Tollbooth.Http;

/// <summary>
/// <c>POST /v1/rules/dry-run</c> (admin): a proposed invalid-traffic rule set run over the raw archive of a
/// range; per advertiser, the clicks and spend that would change verdict. Nothing changes.
/// </summary>
public static class RuleEndpoints
{
    private const long MaxSpanMinutes = 31 * 24 * 60;

    public static void Map(WebApplication app, string archiveRoot, AggregatorOptions current)
    {
        app.MapPost("/v1/rules/dry-run", (HttpContext context, QueryServices services) => DryRunAsync(context, services, archiveRoot, current))
            .Doc("Runs a proposed rule set over the raw archive and answers, per advertiser, what would change verdict.", "admin", [200, 400, 401, 403, 413]);
    }

    private static async Task<IResult> DryRunAsync(HttpContext context, QueryServices services, string archiveRoot, AggregatorOptions current)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, services.Keys);
        if (denied is not null)
        {
            return denied;
        }

        const string example = "{\"rules\": {\"user_clicks_per_ad_per_minute_max\": 5}, \"from\": \"2026-11-23T00:00:00Z\", \"to\": \"2026-11-24T00:00:00Z\"}";
        (JsonElement body, IResult? bad) = await JsonText.ReadObjectAsync(context, example);
        if (bad is not null)
        {
            return bad;
        }

        if (!body.TryGetProperty("from", out JsonElement fromValue) || !TimeText.TryParse(fromValue.ValueKind == JsonValueKind.String ? fromValue.GetString() : null, out long fromMs)
            || !body.TryGetProperty("to", out JsonElement toValue) || !TimeText.TryParse(toValue.ValueKind == JsonValueKind.String ? toValue.GetString() : null, out long toMs))
        {
            return ApiError.Result(400, "invalid_range", "from and to must be times such as 2026-11-23T00:00:00Z.");
        }

        long fromMinute = TimeText.FloorToMinuteMs(fromMs) / 60_000;
        long toMinute = TimeText.FloorToMinuteMs(toMs) / 60_000;
        if (fromMinute > toMinute || toMinute - fromMinute > MaxSpanMinutes)
        {
            return ApiError.Result(400, "invalid_range", "from must be at or before to, and the range at most 31 days.");
        }

        (AggregatorOptions? proposed, string? problem) = Proposed(body, current);
        if (proposed is null)
        {
            return ApiError.Result(400, "invalid_rules", problem!);
        }

        (long read, IReadOnlyList<AdvertiserImpact> advertisers) = RuleDryRun.Run(archiveRoot, proposed, fromMinute, toMinute);
        return new JsonBody(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("from", TimeText.Format(fromMinute * 60_000));
            writer.WriteString("to", TimeText.Format(toMinute * 60_000));
            // The version the window rows record for the rules in force, and the one the proposal would get.
            writer.WriteString("rule_version_in_force", RuleSet.VersionOf(current));
            writer.WriteStartObject("rules");
            writer.WriteString("rule_version", RuleSet.VersionOf(proposed));
            writer.WriteStartArray("bot_user_agents");
            foreach (string pattern in proposed.BotUserAgentPatterns)
            {
                writer.WriteStringValue(pattern);
            }

            writer.WriteEndArray();
            writer.WriteNumber("user_clicks_per_ad_per_minute_max", proposed.UserClicksPerAdPerMinuteMax);
            writer.WriteNumber("ip_clicks_per_ad_per_minute_max", proposed.IpClicksPerAdPerMinuteMax);
            writer.WriteEndObject();
            writer.WriteNumber("clicks_read", read);
            writer.WriteStartArray("advertisers");
            foreach (AdvertiserImpact impact in advertisers)
            {
                writer.WriteStartObject();
                writer.WriteString("advertiser_id", impact.AdvertiserId);
                writer.WriteNumber("clicks", impact.Clicks);
                writer.WriteNumber("clicks_changing_verdict", impact.ChangingVerdict);
                writer.WriteNumber("valid_clicks_now", impact.ValidNow);
                writer.WriteNumber("valid_clicks_proposed", impact.ValidProposed);
                writer.WriteNumber("spend_micros_now", impact.SpendNowMicros);
                writer.WriteNumber("spend_micros_proposed", impact.SpendProposedMicros);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    // The rules in force, with what the body proposes in their place.
    private static (AggregatorOptions? Rules, string? Problem) Proposed(JsonElement body, AggregatorOptions current)
    {
        if (!body.TryGetProperty("rules", out JsonElement rules) || rules.ValueKind != JsonValueKind.Object)
        {
            return (null, "rules must be an object such as {\"user_clicks_per_ad_per_minute_max\": 5}.");
        }

        AggregatorOptions proposed = current;
        foreach (JsonProperty rule in rules.EnumerateObject())
        {
            switch (rule.Name)
            {
                case "user_clicks_per_ad_per_minute_max" or "ip_clicks_per_ad_per_minute_max":
                    if (rule.Value.ValueKind != JsonValueKind.Number || !rule.Value.TryGetInt32(out int limit) || limit < 0)
                    {
                        return (null, $"{rule.Name} must be a whole number of at least 0 (0 turns the check off).");
                    }

                    proposed = rule.Name == "user_clicks_per_ad_per_minute_max"
                        ? proposed with { UserClicksPerAdPerMinuteMax = limit }
                        : proposed with { IpClicksPerAdPerMinuteMax = limit };
                    break;
                case "bot_user_agents":
                    if (rule.Value.ValueKind != JsonValueKind.Array || rule.Value.GetArrayLength() > 1000
                        || rule.Value.EnumerateArray().Any(p => p.ValueKind != JsonValueKind.String || p.GetString() is not { Length: >= 1 and <= 200 }))
                    {
                        return (null, "bot_user_agents must be an array of up to 1000 strings of 1 to 200 characters.");
                    }

                    proposed = proposed with { BotUserAgentPatterns = rule.Value.EnumerateArray().Select(p => p.GetString()!).ToArray() };
                    break;
                default:
                    return (null, "rules takes bot_user_agents, user_clicks_per_ad_per_minute_max and ip_clicks_per_ad_per_minute_max; remove the others.");
            }
        }

        return (proposed, null);
    }
}

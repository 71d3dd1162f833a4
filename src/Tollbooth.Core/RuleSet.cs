using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// The invalid-traffic rules, in API.md's order, for a click that is not a duplicate: a token that did not
/// verify, a known bot, over the rate limit, unsigned where the advertiser requires signing. One place, used
/// by the processors and by a rule dry-run alike, so both decide the same for the same rules.
/// <para>
/// A rule set is versioned by what it decides, not by when it was set: its <see cref="Version"/> is a hash
/// of its settings in a canonical form, so the same rules give the same version on every machine and on
/// every replay (I5), and a window row's version is a function of the log and the configuration like its
/// numbers. Settings that decide alike (bot patterns in another order, case or repeated) share a version.
/// </para>
/// </summary>
public sealed class RuleSet
{
    private readonly SearchValues<string> _botPatterns;
    private readonly int _userMax;
    private readonly int _ipMax;

    public RuleSet(AggregatorOptions options)
    {
        _botPatterns = SearchValues.Create(options.BotUserAgentPatterns.ToArray(), StringComparison.OrdinalIgnoreCase);
        _userMax = options.UserClicksPerAdPerMinuteMax;
        _ipMax = options.IpClicksPerAdPerMinuteMax;
        Version = VersionOf(options);
    }

    /// <summary>This rule set's version: 16 hex digits, see <see cref="VersionOf"/>.</summary>
    public string Version { get; }

    /// <summary>
    /// The version of the rules in <paramref name="options"/>: the first 8 bytes of SHA-256 over
    /// <see cref="CanonicalText"/>, as 16 lowercase hex digits.
    /// </summary>
    public static string VersionOf(AggregatorOptions options) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalText(options))).AsSpan(0, 8));

    /// <summary>
    /// The rules in one canonical text: the bot patterns upper-cased (the case the matcher ignores),
    /// without repeats, in ordinal order, then the two rate limits. The bad_token and unsigned rules have no settings here: ingest decides
    /// their inputs (token check, the advertiser's requirement) and writes them into the log record.
    /// </summary>
    public static string CanonicalText(AggregatorOptions options)
    {
        var text = new StringBuilder("tollbooth rules 1\n");
        foreach (string pattern in options.BotUserAgentPatterns.Select(p => p.ToUpperInvariant()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            // A pattern may hold a line break: escaped, so two different lists never read alike.
            text.Append("bot ").Append(pattern.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        }

        return text
            .Append(CultureInfo.InvariantCulture, $"user_clicks_per_ad_per_minute_max {options.UserClicksPerAdPerMinuteMax}\n")
            .Append(CultureInfo.InvariantCulture, $"ip_clicks_per_ad_per_minute_max {options.IpClicksPerAdPerMinuteMax}\n")
            .ToString();
    }

    /// <summary>
    /// The reason the click is invalid, or <see cref="InvalidReason.None"/>. A click too late for its window
    /// never reaches the rate counters (their minute may be forgotten); the others move them.
    /// </summary>
    public InvalidReason Check(Click click, long minute, bool tooLate, RateCounters rates)
    {
        var view = new ClickView(ClickCodec.Encode(click));
        return Check(in view, minute, tooLate, rates, IsBot(click.UserAgent));
    }

    /// <summary>
    /// The same decision for a click read in place from its record; <paramref name="isBot"/> is <see cref="IsBot"/> of its
    /// user agent (the processors keep it per user agent).
    /// </summary>
    public InvalidReason Check(scoped in ClickView click, long minute, bool tooLate, RateCounters rates, bool isBot)
    {
        if (click.Signature == ClickSignature.Bad)
        {
            return InvalidReason.BadToken;
        }

        if (isBot)
        {
            return InvalidReason.Bot;
        }

        if (!tooLate && OverRate(in click, minute, rates))
        {
            return InvalidReason.Rate;
        }

        return click.SignedRequired && click.Signature == ClickSignature.Unsigned ? InvalidReason.Unsigned : InvalidReason.None;
    }

    /// <summary>True when the user agent holds a known bot's pattern (case ignored).</summary>
    public bool IsBot(ReadOnlySpan<char> userAgent) => userAgent.Length > 0 && userAgent.ContainsAny(_botPatterns);

    // Both counters move on every click that reaches the rule, so a sender over the limit stays over it.
    private bool OverRate(scoped in ClickView click, long minute, RateCounters rates)
    {
        bool over = false;
        if (_userMax > 0 && !click.UserId.IsEmpty)
        {
            over |= rates.Increment(minute, RateCounters.KeyOfUtf8(1, click.AdId, click.UserId)) > _userMax;
        }

        if (_ipMax > 0 && !click.IpHash.IsEmpty)
        {
            over |= rates.Increment(minute, RateCounters.KeyOfUtf8(2, click.AdId, click.IpHash)) > _ipMax;
        }

        return over;
    }
}

using System.Buffers;

namespace Tollbooth.Core;

/// <summary>
/// The invalid-traffic rules, in API.md's order, for a click that is not a duplicate: a token that did not
/// verify, a known bot, over the rate limit, unsigned where the advertiser requires signing. One place, used
/// by the processors and by a rule dry-run alike, so both decide the same for the same rules.
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
    }

    /// <summary>
    /// The reason the click is invalid, or <see cref="InvalidReason.None"/>. A click too late for its window
    /// never reaches the rate counters (their minute may be forgotten); the others move them.
    /// </summary>
    public InvalidReason Check(Click click, long minute, bool tooLate, RateCounters rates)
    {
        if (click.Signature == ClickSignature.Bad)
        {
            return InvalidReason.BadToken;
        }

        if (click.UserAgent.Length > 0 && click.UserAgent.AsSpan().ContainsAny(_botPatterns))
        {
            return InvalidReason.Bot;
        }

        if (!tooLate && OverRate(click, minute, rates))
        {
            return InvalidReason.Rate;
        }

        return click.SignedRequired && click.Signature == ClickSignature.Unsigned ? InvalidReason.Unsigned : InvalidReason.None;
    }

    // Both counters move on every click that reaches the rule, so a sender over the limit stays over it.
    private bool OverRate(Click click, long minute, RateCounters rates)
    {
        bool over = false;
        if (_userMax > 0 && click.UserId.Length > 0)
        {
            over |= rates.Increment(minute, RateCounters.KeyOf(1, click.AdId, click.UserId)) > _userMax;
        }

        if (_ipMax > 0 && click.IpHash.Length > 0)
        {
            over |= rates.Increment(minute, RateCounters.KeyOf(2, click.AdId, click.IpHash)) > _ipMax;
        }

        return over;
    }
}

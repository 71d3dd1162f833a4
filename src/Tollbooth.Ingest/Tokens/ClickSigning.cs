using System.Collections.Concurrent;
using Tollbooth.Core;

namespace Tollbooth.Ingest.Tokens;

/// <summary>
/// What ingest decides about signing, once per click, before the click is written to the log (so a
/// replay decides the same, I5): whether its token verifies, and whether its advertiser requires one.
/// </summary>
public sealed class ClickSigning(ClickTokens tokens, ISettingsStore settings)
{
    private readonly ConcurrentDictionary<string, bool> _requiresSigned = new(StringComparer.Ordinal);

    public ClickTokens Tokens => tokens;

    /// <summary>
    /// Marks a posted click: a token verifies only when its key, signature and expiry are good and the
    /// click names the token's ad, advertiser and, when the token has them, campaign, publisher and cost.
    /// A verified click takes the token's click id, so a link counts once however it arrives.
    /// </summary>
    public void Judge(Click click)
    {
        if (click.Token.Length > 0)
        {
            bool verified = tokens.Verify(click.Token, out TokenClaims? claims) == TokenProblem.None && Matches(claims!, click);
            click.Signature = verified ? ClickSignature.Verified : ClickSignature.Bad;
            if (verified)
            {
                click.ClickId = claims!.ClickId;
            }
        }

        click.SignedRequired = RequiresSigned(click.AdvertiserId);
    }

    public bool RequiresSigned(string advertiserId) =>
        _requiresSigned.GetOrAdd(advertiserId, static (id, s) => s.FindAdvertiser(id)?.RequireSignedClicks ?? false, settings);

    /// <summary>
    /// <see cref="RequiresSigned(string)"/> for an id the record parser holds as characters: a known advertiser is looked
    /// up without a string; only the first click of an advertiser makes one (to ask the settings and keep the answer).
    /// </summary>
    public bool RequiresSigned(ReadOnlySpan<char> advertiserId) =>
        _requiresSigned.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(advertiserId, out bool required)
            ? required
            : RequiresSigned(advertiserId.ToString());

    /// <summary>Call after an advertiser's settings changed, so the next click reads them.</summary>
    public void Forget(string advertiserId) => _requiresSigned.TryRemove(advertiserId, out _);

    private static bool Matches(TokenClaims claims, Click click) =>
        claims.AdId == click.AdId
        && claims.AdvertiserId == click.AdvertiserId
        && (claims.CampaignId.Length == 0 || claims.CampaignId == click.CampaignId)
        && (claims.PublisherId.Length == 0 || claims.PublisherId == click.PublisherId)
        && (claims.CostMicros == 0 || claims.CostMicros == click.CostMicros);
}

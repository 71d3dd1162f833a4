namespace Tollbooth.Core;

/// <summary>
/// One click event as it travels through the log: validated and normalised at ingest,
/// so the processor never sees a raw IP address or an unparsed field.
/// Empty strings stand for absent optional fields.
/// </summary>
public sealed class Click
{
    /// <summary>The idempotency key: given by the client or derived at ingest.</summary>
    public required string ClickId { get; set; }

    public required string AdId { get; init; }

    public required string AdvertiserId { get; init; }

    public string CampaignId { get; init; } = "";

    public string PublisherId { get; init; } = "";

    public string UserId { get; init; } = "";

    /// <summary>Keyed hash of the source IP address, lower-case hex; empty when no IP was given.</summary>
    public string IpHash { get; init; } = "";

    /// <summary>ISO 3166-1 alpha-2, upper case, <c>ZZ</c> for unknown; empty when absent.</summary>
    public string Country { get; init; } = "";

    public Device Device { get; init; }

    public string UserAgent { get; init; } = "";

    /// <summary>Event time, epoch milliseconds UTC.</summary>
    public long TimestampMs { get; init; }

    /// <summary>When ingest received the click, epoch milliseconds UTC. Never used for a count decision (I5).</summary>
    public long ReceivedMs { get; init; }

    public long CostMicros { get; init; }

    /// <summary>Signed click token; empty when absent.</summary>
    public string Token { get; init; } = "";

    /// <summary>What ingest found when it checked <see cref="Token"/> (decided once, kept in the log: I5).</summary>
    public ClickSignature Signature { get; set; }

    /// <summary>The advertiser required signed clicks when ingest took this one (kept in the log: I5).</summary>
    public bool SignedRequired { get; set; }
}

/// <summary>The outcome of checking a click's token at ingest.</summary>
public enum ClickSignature : byte
{
    /// <summary>The click carried no token.</summary>
    Unsigned = 0,

    /// <summary>The token verified: right key, signature, expiry and fields.</summary>
    Verified = 1,

    /// <summary>The token did not verify: the click is invalid (<c>bad_token</c>).</summary>
    Bad = 2,
}

namespace Tollbooth.Loadgen;

/// <summary>What loadgen meant a generated click to be, which decides the verdict it expects.</summary>
public enum LoadClickKind : byte
{
    /// <summary>A person's click, now or up to a few seconds ago (out of order).</summary>
    Normal,

    /// <summary>A person's click minutes in the past, within the allowed lateness: valid, and counted late.</summary>
    Late,

    /// <summary>One of a burst from one user on one ad in one minute: those over the rate limit are invalid (<c>rate</c>).</summary>
    Burst,

    /// <summary>A bot's click (a bot user agent): invalid (<c>bot</c>).</summary>
    Bot,

    /// <summary>A click without <c>advertiser_id</c>: rejected at ingest, never counted.</summary>
    Malformed,
}

namespace Tollbooth.Core;

/// <summary>The settings every count decision depends on (I5): the same log and these give the same rows.</summary>
public sealed record AggregatorOptions
{
    public static readonly string[] DefaultBotUserAgentPatterns =
    [
        "bot", "crawler", "spider", "crawl", "slurp", "headlesschrome", "phantomjs", "python-requests",
        "curl/", "wget/", "facebookexternalhit", "bingpreview", "mediapartners-google", "scrapy",
    ];

    /// <summary>Watermark = highest event time seen − this.</summary>
    public long WatermarkDelayMs { get; init; } = 10_000;

    /// <summary>A click whose window ended more than this before the watermark is too late.</summary>
    public long AllowedLatenessMs { get; init; } = 24 * 3_600_000L;

    /// <summary>How long, in event time behind the watermark, a click id is remembered.</summary>
    public long DedupHorizonMs { get; init; } = 48 * 3_600_000L;

    /// <summary>Most click ids one partition's dedup index holds.</summary>
    public long DedupIdsMax { get; init; } = 200_000_000;

    /// <summary>Case-insensitive substrings of user agents of known bots and crawlers.</summary>
    public IReadOnlyList<string> BotUserAgentPatterns { get; init; } = DefaultBotUserAgentPatterns;

    /// <summary>
    /// The rate rule: more clicks than this from one user on one ad in one event-time minute are invalid
    /// (<c>rate</c>); 0 turns the check off. A person rarely clicks the same ad more than a few times a minute.
    /// </summary>
    public int UserClicksPerAdPerMinuteMax { get; init; } = 10;

    /// <summary>
    /// The same for one IP address; higher than the user limit because offices and carrier NAT put many
    /// people behind one address. 0 turns the check off.
    /// </summary>
    public int IpClicksPerAdPerMinuteMax { get; init; } = 30;

    /// <summary>
    /// Window rows a partition's table has room for before it first grows (a table sized before it fills is not
    /// rehashed under the clock). Memory, never a decision: the rows are the same for any value.
    /// </summary>
    public int ResidentRowsInitialCapacity { get; init; } = 1 << 16;
}

namespace Tollbooth.Loadgen;

/// <summary>One ad's numbers over a run, as loadgen expects them or as the server shows them.</summary>
public readonly record struct AdCounts(
    long Received, long Clicks, long SpendMicros, long DuplicateClicks, long InvalidBot, long InvalidRate, long InvalidBadToken, long InvalidUnsigned, long TooLate)
{
    public AdCounts Plus(AdCounts other) => new(
        Received + other.Received,
        Clicks + other.Clicks,
        SpendMicros + other.SpendMicros,
        DuplicateClicks + other.DuplicateClicks,
        InvalidBot + other.InvalidBot,
        InvalidRate + other.InvalidRate,
        InvalidBadToken + other.InvalidBadToken,
        InvalidUnsigned + other.InvalidUnsigned,
        TooLate + other.TooLate);

    /// <summary>Each field by its API name, for comparing and for messages.</summary>
    public IEnumerable<(string Field, long Value)> Fields()
    {
        yield return ("received", Received);
        yield return ("clicks", Clicks);
        yield return ("spend_micros", SpendMicros);
        yield return ("duplicate_clicks", DuplicateClicks);
        yield return ("invalid_by_reason.bot", InvalidBot);
        yield return ("invalid_by_reason.rate", InvalidRate);
        yield return ("invalid_by_reason.bad_token", InvalidBadToken);
        yield return ("invalid_by_reason.unsigned", InvalidUnsigned);
        yield return ("too_late", TooLate);
    }
}

using Tollbooth.Core;

namespace Tollbooth.Processing;

/// <summary>The numbers of a window (or of several summed), without its unique-user sketch.</summary>
public readonly record struct WindowNumbers(
    long Received,
    long Clicks,
    long SpendMicros,
    long DuplicateClicks,
    long InvalidBadToken,
    long InvalidBot,
    long InvalidRate,
    long InvalidUnsigned,
    long TooLate,
    long LateClicks,
    long UniqueUsers)
{
    public long InvalidClicks => InvalidBadToken + InvalidBot + InvalidRate + InvalidUnsigned;

    public static WindowNumbers Of(WindowRow row) => new(
        row.Received, row.Clicks, row.SpendMicros, row.DuplicateClicks, row.InvalidBadToken, row.InvalidBot,
        row.InvalidRate, row.InvalidUnsigned, row.TooLate, row.LateClicks, row.Users.Estimate());

    /// <summary>
    /// The counts of two windows summed; <see cref="UniqueUsers"/> is 0, since users are merged from sketches, never
    /// added (the caller estimates them from its merged sketch).
    /// </summary>
    public static WindowNumbers SumOf(WindowNumbers a, WindowNumbers b) => new(
        a.Received + b.Received,
        a.Clicks + b.Clicks,
        a.SpendMicros + b.SpendMicros,
        a.DuplicateClicks + b.DuplicateClicks,
        a.InvalidBadToken + b.InvalidBadToken,
        a.InvalidBot + b.InvalidBot,
        a.InvalidRate + b.InvalidRate,
        a.InvalidUnsigned + b.InvalidUnsigned,
        a.TooLate + b.TooLate,
        a.LateClicks + b.LateClicks,
        0);
}

/// <summary>One row of the changes feed as stored, with the rule set version of its window row at the change.</summary>
public sealed record StoredChange(int Partition, long Sequence, WindowKey Key, WindowStatus Status, long Revision, WindowNumbers Numbers, string RuleVersion = "");

namespace Tollbooth.Core;

/// <summary>
/// Every click gets exactly one verdict, decided in this order: duplicate, invalid, too late, else valid.
/// </summary>
public enum Verdict : byte
{
    Valid = 0,
    Duplicate = 1,
    Invalid = 2,
    TooLate = 3,
}

/// <summary>Why a click is invalid: kept and counted by reason, never billed.</summary>
public enum InvalidReason : byte
{
    None = 0,
    BadToken = 1,
    Bot = 2,
    Rate = 3,
    Unsigned = 4,
}

public static class InvalidReasonNames
{
    public static string ToWire(InvalidReason reason) => reason switch
    {
        InvalidReason.BadToken => "bad_token",
        InvalidReason.Bot => "bot",
        InvalidReason.Rate => "rate",
        InvalidReason.Unsigned => "unsigned",
        _ => "",
    };
}

/// <summary>
/// What became of one click: its verdict, the reason when invalid, for a valid click whether it was
/// late (its window had closed but could still be corrected), as the window rows count it; and the version
/// of the rule set that decided it (<see cref="RuleSet.VersionOf"/>; empty when not known), which the
/// window row it is counted into records.
/// </summary>
public readonly record struct ClickOutcome(Verdict Verdict, InvalidReason Reason, bool Late = false, string RuleVersion = "")
{
    /// <summary>The archive's spelling: <c>valid</c>, <c>duplicate</c>, <c>invalid:&lt;reason&gt;</c> or <c>too_late</c>.</summary>
    public string ToWire() => Verdict switch
    {
        Verdict.Valid => "valid",
        Verdict.Duplicate => "duplicate",
        Verdict.Invalid => "invalid:" + InvalidReasonNames.ToWire(Reason),
        _ => "too_late",
    };

    public static bool TryParse(string wire, bool late, string ruleVersion, out ClickOutcome outcome)
    {
        outcome = wire switch
        {
            "valid" => new ClickOutcome(Verdict.Valid, InvalidReason.None, late, ruleVersion),
            "duplicate" => new ClickOutcome(Verdict.Duplicate, InvalidReason.None, RuleVersion: ruleVersion),
            "too_late" => new ClickOutcome(Verdict.TooLate, InvalidReason.None, RuleVersion: ruleVersion),
            "invalid:bad_token" => new ClickOutcome(Verdict.Invalid, InvalidReason.BadToken, RuleVersion: ruleVersion),
            "invalid:bot" => new ClickOutcome(Verdict.Invalid, InvalidReason.Bot, RuleVersion: ruleVersion),
            "invalid:rate" => new ClickOutcome(Verdict.Invalid, InvalidReason.Rate, RuleVersion: ruleVersion),
            "invalid:unsigned" => new ClickOutcome(Verdict.Invalid, InvalidReason.Unsigned, RuleVersion: ruleVersion),
            _ => default,
        };
        return wire is "valid" or "duplicate" or "too_late" || wire.StartsWith("invalid:", StringComparison.Ordinal) && outcome.Verdict == Verdict.Invalid;
    }
}

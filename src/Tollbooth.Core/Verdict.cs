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

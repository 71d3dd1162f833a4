namespace Tollbooth.Core;

/// <summary>
/// Where a window stands in the billing contract. The order matters: a window only moves forward
/// (<see cref="Open"/> → <see cref="Closed"/> → <see cref="Final"/> → <see cref="Amended"/>).
/// </summary>
public enum WindowStatus : sbyte
{
    /// <summary>The partition watermark has not passed the window's end: clicks still arrive on time.</summary>
    Open = 0,

    /// <summary>The watermark passed the end; late clicks within the allowed lateness still correct it.</summary>
    Closed = 1,

    /// <summary>The watermark passed the end plus the allowed lateness: billing grade.</summary>
    Final = 2,

    /// <summary>Changed after it was final (a too-late, duplicate or invalid click landed in it).</summary>
    Amended = 3,
}

public static class WindowStatusNames
{
    public static string ToWire(WindowStatus status) => status switch
    {
        WindowStatus.Open => "open",
        WindowStatus.Closed => "closed",
        WindowStatus.Final => "final",
        WindowStatus.Amended => "amended",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}

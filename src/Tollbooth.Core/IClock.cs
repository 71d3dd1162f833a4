namespace Tollbooth.Core;

/// <summary>Wall-clock time, injected so tests drive it. Never consulted for a count decision (I5).</summary>
public interface IClock
{
    long UtcNowMs { get; }
}

public sealed class SystemClock : IClock
{
    public static readonly SystemClock Instance = new();

    public long UtcNowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}

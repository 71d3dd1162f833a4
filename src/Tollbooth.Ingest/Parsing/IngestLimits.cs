namespace Tollbooth.Ingest.Parsing;

/// <summary>The limits of one click request; over them the request answers 413 and nothing is accepted.</summary>
public sealed class IngestLimits
{
    public int ClicksPerRequestMax { get; init; } = 10_000;

    public long BodyBytesMax { get; init; } = 4L << 20;

    /// <summary>A timestamp further than this ahead of the server clock is rejected (clock skew).</summary>
    public long FutureSkewMsMax { get; init; } = 5 * 60_000L;
}

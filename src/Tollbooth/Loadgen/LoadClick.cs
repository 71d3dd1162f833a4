namespace Tollbooth.Loadgen;

/// <summary>
/// One generated click. A duplicate is the same object sent again, so every copy of a click id carries
/// the same fields and the first copy's verdict does not depend on which copy the log holds first.
/// </summary>
public sealed class LoadClick
{
    public required long Sequence { get; init; }

    public required int Ad { get; init; }

    public required int Publisher { get; init; }

    /// <summary>Index of the sender: a person, an abuser or a bot (see <see cref="LoadgenWorkload"/>).</summary>
    public required int User { get; init; }

    public required LoadClickKind Kind { get; init; }

    public required long TimestampMs { get; init; }
}

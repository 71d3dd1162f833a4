namespace Tollbooth.Fuzz;

/// <summary>The fuzz targets by name: what <c>fuzz/run NAME</c> fuzzes and the corpus replay test replays (fuzz/corpus/NAME/).</summary>
public static class FuzzTargets
{
    private static readonly Dictionary<string, Func<byte[], FuzzResult>> s_targets = new(StringComparer.Ordinal)
    {
        ["json"] = input => ParserTarget.Json(input),
        ["ndjson"] = input => ParserTarget.Ndjson(input),
        ["validator"] = input => ValidatorTarget.Run(input),
        ["token"] = input => TokenTarget.Run(input),
    };

    public static IReadOnlyCollection<string> Names => s_targets.Keys;

    /// <summary>Runs one input through a target; throws <see cref="FuzzContractException"/> (or whatever escaped the code under test) when the contract breaks.</summary>
    public static FuzzResult Run(string target, byte[] input) =>
        s_targets.TryGetValue(target, out Func<byte[], FuzzResult>? run)
            ? run(input)
            : throw new ArgumentException($"There is no fuzz target '{target}': choose one of {string.Join(", ", s_targets.Keys)}.", nameof(target));
}

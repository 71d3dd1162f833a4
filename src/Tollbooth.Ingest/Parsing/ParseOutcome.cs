using Tollbooth.Core;

namespace Tollbooth.Ingest.Parsing;

/// <summary>One rejected item: its index (array position or 0-based line number), a sentence and a stable code.</summary>
public sealed record Rejection(int Index, string Error, string Code);

/// <summary>A click that passed every rule, with its index in the request.</summary>
public sealed record ParsedClick(int Index, Click Click);

/// <summary>The request as a whole cannot be taken: answer <see cref="Status"/> (400 or 413) and accept nothing.</summary>
public sealed record BodyError(int Status, string Code, string Message);

/// <summary>What a click request parsed to: a whole-body error, or accepted clicks and per-item rejections.</summary>
public sealed class ParseOutcome
{
    private ParseOutcome(BodyError? bodyError, IReadOnlyList<ParsedClick> accepted, IReadOnlyList<Rejection> rejections)
    {
        BodyError = bodyError;
        Accepted = accepted;
        Rejections = rejections;
    }

    public BodyError? BodyError { get; }

    public IReadOnlyList<ParsedClick> Accepted { get; }

    public IReadOnlyList<Rejection> Rejections { get; }

    public static ParseOutcome Failed(int status, string code, string message) => new(new BodyError(status, code, message), [], []);

    public static ParseOutcome Items(IReadOnlyList<ParsedClick> accepted, IReadOnlyList<Rejection> rejections) => new(null, accepted, rejections);
}

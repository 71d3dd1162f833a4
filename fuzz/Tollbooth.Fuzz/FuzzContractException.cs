namespace Tollbooth.Fuzz;

/// <summary>
/// A fuzz target's contract was broken: the input was neither cleanly accepted nor cleanly rejected, or the
/// results disagree with each other. AFL records the input as a crash; the corpus replay test fails on it.
/// </summary>
public sealed class FuzzContractException(string message) : Exception(message)
{
    public static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzContractException(message);
        }
    }
}

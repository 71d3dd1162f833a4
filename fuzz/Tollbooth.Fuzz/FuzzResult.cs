namespace Tollbooth.Fuzz;

/// <summary>
/// What one input came to, so the corpus replay can show that the saved inputs reach every outcome
/// (a corpus that only reaches "invalid JSON" would prove little).
/// </summary>
public readonly record struct FuzzResult(int Accepted, int Rejected, bool BodyRejected, bool Verified)
{
    public static FuzzResult operator +(FuzzResult left, FuzzResult right) => new(
        left.Accepted + right.Accepted,
        left.Rejected + right.Rejected,
        left.BodyRejected || right.BodyRejected,
        left.Verified || right.Verified);
}

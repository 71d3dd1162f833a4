namespace Tollbooth.Log;

/// <summary>One append waiting for its group commit: the task to complete and the position of its first record.</summary>
internal readonly record struct PendingAppend(TaskCompletionSource<long> Completion, long FirstPosition);

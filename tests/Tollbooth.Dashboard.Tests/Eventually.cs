namespace Tollbooth.Dashboard.Tests;

/// <summary>Polls a condition with a deadline (the page refreshes itself; nothing here sleeps for luck).</summary>
internal static class Eventually
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Runs <paramref name="check"/> until it returns null (satisfied) or the deadline passes; it returns
    /// what is still wrong, which becomes the failure message.
    /// </summary>
    public static async Task HoldsAsync(Func<Task<string?>> check)
    {
        DateTime deadline = DateTime.UtcNow + s_deadline;
        string? wrong = "never checked";
        while (DateTime.UtcNow < deadline)
        {
            wrong = await check();
            if (wrong is null)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Not seen within {s_deadline.TotalSeconds} s: {wrong}");
    }
}

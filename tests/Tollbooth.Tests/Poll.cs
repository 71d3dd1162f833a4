using System.Globalization;

namespace Tollbooth.Tests;

/// <summary>Waiting without luck: a condition asked every 50 ms until it holds, failing the test at the deadline.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not reached within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s: {describe()}");
            await Task.Delay(50);
        }
    }
}

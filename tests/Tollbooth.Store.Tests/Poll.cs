namespace Tollbooth.Store.Tests;

/// <summary>Waits for a condition another thread makes true, up to a deadline, instead of sleeping and hoping.</summary>
public static class Poll
{
    public static void Until(Func<bool> condition, TimeSpan deadline, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var spin = new SpinWait();
        while (!condition())
        {
            if (clock.Elapsed > deadline)
            {
                throw new TimeoutException($"gave up after {deadline.TotalSeconds:0} s waiting for {what}");
            }

            spin.SpinOnce(sleep1Threshold: 20);
        }
    }
}

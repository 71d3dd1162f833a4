// Goal: WaitForDurableAsync completes exactly when the durable end passes the position, and honours its
// cancellation token. Method: the flusher is held so the position is known not to be durable yet, then released.
namespace Tollbooth.Log.Tests;

public sealed class WaitForDurableTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Wait_completes_once_the_position_is_durable()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        await log.AppendAsync(0, [LogFixtures.Payload(0, 16)]);
        Assert.True(log.WaitForDurableAsync(0, 0, CancellationToken.None).IsCompletedSuccessfully);

        log.FlusherGate.Reset();
        Task waitForSecond = log.WaitForDurableAsync(0, 1, CancellationToken.None);
        Task waitForThird = log.WaitForDurableAsync(0, 2, CancellationToken.None);
        Task<long> append = log.AppendAsync(0, [LogFixtures.Payload(1, 16)]);
        Assert.False(waitForSecond.IsCompleted);

        log.FlusherGate.Set();
        await waitForSecond;
        Assert.Equal(2, log.DurableEnd(0));
        Assert.False(waitForThird.IsCompleted);
        Assert.Equal(1, await append);

        await log.AppendAsync(0, [LogFixtures.Payload(2, 16)]);
        await waitForThird;
    }

    [Fact]
    public async Task Wait_is_cancelled_by_its_token()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        using var cancellation = new CancellationTokenSource();
        Task wait = log.WaitForDurableAsync(0, 0, cancellation.Token);
        Assert.False(wait.IsCompleted);
        cancellation.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }
}

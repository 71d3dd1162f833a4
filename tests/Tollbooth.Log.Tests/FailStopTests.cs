// Goal: a failed fsync is fail-stop: the appends of that commit and everything pending fault with
// LogFailedException, durable ends stay where they were, every later append throws, and nothing is retried.
// Method: the test hook before each data fdatasync throws an IOException like the kernel's EIO.
namespace Tollbooth.Log.Tests;

public sealed class FailStopTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Failed_fsync_faults_the_commit_and_every_later_append()
    {
        var warnings = new List<string>();
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, partitions: 2, warnings: warnings));
        Assert.Equal(0, await log.AppendAsync(0, [LogFixtures.Payload(0, 16)]));
        Task waiter = log.WaitForDurableAsync(1, 0, CancellationToken.None);

        log.BeforeDataSyncForTests = path => throw new IOException($"fdatasync failed for {path}: errno 5 (Input/output error).");
        await Assert.ThrowsAsync<LogFailedException>(() => log.AppendAsync(0, [LogFixtures.Payload(1, 16)]));
        await Assert.ThrowsAsync<LogFailedException>(() => waiter);

        Assert.True(log.IsFailed);
        Assert.Equal(1, log.DurableEnd(0));
        Assert.Equal(1, log.FsyncCount);
        Assert.Throws<LogFailedException>(() => { _ = log.AppendAsync(1, [LogFixtures.Payload(2, 16)]); });
        Assert.Contains("errno 5", Assert.Single(warnings));
    }

    [Fact]
    public async Task Appends_pending_when_the_fsync_fails_fault_too()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        log.FlusherGate.Reset();
        var appends = new List<Task<long>>();
        for (int i = 0; i < 5; i++)
        {
            appends.Add(log.AppendAsync(0, [LogFixtures.Payload(i, 16)]));
        }

        log.BeforeDataSyncForTests = _ => throw new IOException("injected EIO");
        log.FlusherGate.Set();
        foreach (Task<long> append in appends)
        {
            var failure = await Assert.ThrowsAsync<LogFailedException>(() => append);
            Assert.IsType<IOException>(failure.InnerException);
        }

        Assert.Equal(0, log.DurableEnd(0));
    }
}

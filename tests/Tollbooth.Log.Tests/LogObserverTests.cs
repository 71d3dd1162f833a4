// Goal: the log reports each data fsync to its observer (what the program's metrics bind to), once per fsync and
// never per record, and counts pending bytes until they are written. Method: hold the flusher, append, check
// the pending bytes, release it, and compare the observer's calls with the log's own fsync count.
namespace Tollbooth.Log.Tests;

public sealed class LogObserverTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Every_data_fsync_is_reported_once_and_pending_bytes_return_to_zero()
    {
        long observed = 0;
        SegmentLogOptions defaults = LogFixtures.Options(_directory.Path, partitions: 2);
        var options = new SegmentLogOptions
        {
            Directory = defaults.Directory,
            PartitionCount = defaults.PartitionCount,
            PendingBytesMax = defaults.PendingBytesMax,
            RecordBytesMax = defaults.RecordBytesMax,
            DataSynced = took =>
            {
                Assert.True(took >= TimeSpan.Zero);
                Interlocked.Increment(ref observed);
            },
        };
        using SegmentLog log = SegmentLog.Open(options);
        log.FlusherGate.Reset();
        Task<long> first = log.AppendAsync(0, [LogFixtures.Payload(1, 100), LogFixtures.Payload(2, 100)]);
        Task<long> second = log.AppendAsync(1, [LogFixtures.Payload(3, 100)]);
        Assert.Equal(3 * (FrameHeader.Size + 100), log.PendingBytes);

        log.FlusherGate.Set();
        await Task.WhenAll(first, second);

        Assert.Equal(0, log.PendingBytes);
        Assert.Equal(log.FsyncCount, Interlocked.Read(ref observed));
        Assert.InRange(Interlocked.Read(ref observed), 1, 2);
    }
}

// Goal: the file-system seam costs an interface call, not an allocation: what a group commit (write, fdatasync,
// publish) and a read of durable records allocate does not grow with the records committed or read (the only
// allocation is each partition's next durable-end signal, once per commit). Method: the log opened without its
// flusher thread, so the commit runs on the test thread and GC.GetAllocatedBytesForCurrentThread sees all of it;
// the appends (which allocate their task, per request, never per record) are made before measuring; one warm-up.
namespace Tollbooth.Log.Tests;

public sealed class CommitAllocationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Group_commit_and_read_allocate_the_same_for_20_or_200_appends()
    {
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(LogFixtures.Options(_directory.Path, partitions: 2));
        byte[][] payloads = [LogFixtures.Payload(1, 100), LogFixtures.Payload(2, 100)];
        using ILogReader reader = log.OpenReader(0, 0);
        var batch = new LogReadBatch(1024, 256 << 10);
        long warm = CommitAndRead(log, reader, batch, payloads, 20);
        long few = CommitAndRead(log, reader, batch, payloads, 20);
        long many = CommitAndRead(log, reader, batch, payloads, 200);
        Assert.True(few == many, $"a commit and read of 20 appends allocated {few} bytes, of 200 appends {many} (warm-up {warm})");
        Assert.True(many <= 2 * 256, $"a commit of 2 partitions allocated {many} bytes");
    }

    private static long CommitAndRead(SegmentLog log, ILogReader reader, LogReadBatch batch, byte[][] payloads, int count)
    {
        var appends = new List<Task<long>>(count);
        for (int i = 0; i < count; i++)
        {
            appends.Add(log.AppendAsync(i % 2, payloads));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(log.CommitPendingForTests());
        int read = reader.Read(batch);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.All(appends, append => Assert.True(append.IsCompletedSuccessfully));
        Assert.Equal(count, read);
        return allocated;
    }
}

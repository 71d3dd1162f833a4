// Goal: the log refuses work at its limits instead of growing without bound: an append that would take the
// pending bytes above PendingBytesMax throws LogSaturatedException and appends nothing, and one request's batches
// for several partitions are taken all together or not at all; records that are
// empty or above RecordBytesMax are rejected. Method: the flusher is held so appends stay pending, and the
// test fills the pending total up to the limit exactly.
namespace Tollbooth.Log.Tests;

public sealed class BackPressureTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Append_beyond_pending_bytes_max_throws_saturated_and_appends_nothing()
    {
        var warnings = new List<string>();
        SegmentLogOptions options = new()
        {
            Directory = _directory.Path,
            PartitionCount = 2,
            PendingBytesMax = 1000,
            RecordBytesMax = 200,
            Warn = warnings.Add,
        };
        using SegmentLog log = SegmentLog.Open(options);
        log.FlusherGate.Reset();

        // 10 framed records of 100 bytes across both partitions fill the log-wide limit exactly.
        var appends = new List<Task<long>>();
        for (int i = 0; i < 10; i++)
        {
            appends.Add(log.AppendAsync(i % 2, [LogFixtures.Payload(i, 100 - FrameHeader.Size)]));
        }

        Assert.Throws<LogSaturatedException>(() => { _ = log.AppendAsync(0, [LogFixtures.Payload(99, 1)]); });
        Assert.Throws<LogSaturatedException>(() => { _ = log.AppendAsync(1, [LogFixtures.Payload(99, 1)]); });
        Assert.Contains("PendingBytesMax", Assert.Single(warnings));

        log.FlusherGate.Set();
        await Task.WhenAll(appends);
        Assert.Equal(5, log.DurableEnd(0));
        Assert.Equal(5, log.DurableEnd(1));
        Assert.Equal([0L, 2L, 4L, 6L, 8L], LogFixtures.ReadAll(log, 0).Select(r => LogFixtures.TagOf(r)).ToArray());
        Assert.Equal(5, await log.AppendAsync(0, [LogFixtures.Payload(10, 100)]));
    }

    [Fact]
    public async Task Batches_for_several_partitions_are_taken_all_or_none_when_the_pending_bytes_run_out()
    {
        SegmentLogOptions options = new() { Directory = _directory.Path, PartitionCount = 3, PendingBytesMax = 1000, RecordBytesMax = 500 };
        using SegmentLog log = SegmentLog.Open(options);
        log.FlusherGate.Reset();
        Task<long> first = log.AppendAsync(0, [LogFixtures.Payload(0, 500 - FrameHeader.Size)]);

        // 500 bytes left: partition 1's 300 would fit, partition 2's 300 more would not, so neither is taken.
        PartitionBatch[] request =
        [
            new(1, [LogFixtures.Payload(1, 300 - FrameHeader.Size)]),
            new(2, [LogFixtures.Payload(2, 300 - FrameHeader.Size)]),
        ];
        Assert.Throws<LogSaturatedException>(() => { _ = log.AppendAll(request); });

        // The refused request reserved nothing: exactly 500 bytes still fit, over two partitions.
        Task<long>[] fits = log.AppendAll(
        [
            new(1, [LogFixtures.Payload(3, 200 - FrameHeader.Size)]),
            new(2, [LogFixtures.Payload(4, 300 - FrameHeader.Size)]),
        ]);
        log.FlusherGate.Set();
        Assert.Equal(0, await first);
        long[] positions = await Task.WhenAll(fits);
        Assert.Equal([0L, 0L], positions);
        Assert.Equal([3L], LogFixtures.ReadAll(log, 1).Select(r => LogFixtures.TagOf(r)).ToArray());
        Assert.Equal([4L], LogFixtures.ReadAll(log, 2).Select(r => LogFixtures.TagOf(r)).ToArray());
    }

    [Fact]
    public async Task Record_above_record_bytes_max_is_rejected_and_nothing_of_its_batch_is_appended()
    {
        SegmentLogOptions options = new() { Directory = _directory.Path, PartitionCount = 1, RecordBytesMax = 100 };
        using SegmentLog log = SegmentLog.Open(options);
        log.FlusherGate.Reset();
        Assert.Throws<ArgumentException>(() => { _ = log.AppendAsync(0, [LogFixtures.Payload(0, 10), new byte[101]]); });
        Task<long> next = log.AppendAsync(0, [new byte[100]]);
        log.FlusherGate.Set();
        Assert.Equal(0, await next);
    }

    [Fact]
    public void Empty_record_and_empty_batch_are_rejected()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        Assert.Throws<ArgumentException>(() => { _ = log.AppendAsync(0, [LogFixtures.Payload(0, 10), []]); });
        Assert.Throws<ArgumentException>(() => { _ = log.AppendAsync(0, []); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = log.AppendAsync(1, [LogFixtures.Payload(0, 10)]); });
        Assert.Equal(0, log.DurableEnd(0));
    }

    [Fact]
    public void Batch_larger_than_pending_bytes_max_is_rejected_as_an_argument()
    {
        SegmentLogOptions options = new() { Directory = _directory.Path, PartitionCount = 1, PendingBytesMax = 1000, RecordBytesMax = 500 };
        using SegmentLog log = SegmentLog.Open(options);
        Assert.Throws<ArgumentException>(() => { _ = log.AppendAsync(0, [new byte[500], new byte[500]]); });
    }
}

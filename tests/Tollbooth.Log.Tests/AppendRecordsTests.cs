// Goal: appending a partition's records from one contiguous buffer (AppendRecords, the ingest path) stores the
// same records as AppendAll of one array per record, is taken all or none across partitions when the pending bytes
// run out, and refuses lengths that do not describe the buffer. Method: a held flusher keeps appends pending, then
// the records are read back and compared byte for byte.
namespace Tollbooth.Log.Tests;

public sealed class AppendRecordsTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Records_appended_from_one_buffer_read_back_one_by_one_in_order()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, partitions: 2));
        byte[][] first = [LogFixtures.Payload(1, 40), LogFixtures.Payload(2, 17), LogFixtures.Payload(3, 90)];
        byte[][] second = [LogFixtures.Payload(4, 33)];
        Task<long>[] appended = log.AppendRecords(
        [
            new PartitionRecords(0, first.SelectMany(r => r).ToArray(), first.Select(r => r.Length).ToArray()),
            new PartitionRecords(1, second.SelectMany(r => r).ToArray(), second.Select(r => r.Length).ToArray()),
        ]);

        Assert.Equal(new long[] { 0, 0 }, await Task.WhenAll(appended));
        Assert.Equal(first, LogFixtures.ReadAll(log, 0));
        Assert.Equal(second, LogFixtures.ReadAll(log, 1));
    }

    [Fact]
    public async Task Buffers_for_several_partitions_are_taken_all_or_none_when_the_pending_bytes_run_out()
    {
        SegmentLogOptions options = new() { Directory = _directory.Path, PartitionCount = 3, PendingBytesMax = 1000, RecordBytesMax = 500 };
        using SegmentLog log = SegmentLog.Open(options);
        log.FlusherGate.Reset();
        Task<long> first = log.AppendAsync(0, [LogFixtures.Payload(0, 500 - FrameHeader.Size)]);
        byte[] a = LogFixtures.Payload(1, 300 - FrameHeader.Size);
        byte[] b = LogFixtures.Payload(2, 300 - FrameHeader.Size);
        Assert.Throws<LogSaturatedException>(() => { _ = log.AppendRecords([new PartitionRecords(1, a, new[] { a.Length }), new PartitionRecords(2, b, new[] { b.Length })]); });

        byte[] c = LogFixtures.Payload(3, 200 - FrameHeader.Size);
        Task<long>[] fits = log.AppendRecords([new PartitionRecords(1, c, new[] { c.Length }), new PartitionRecords(2, b, new[] { b.Length })]);
        log.FlusherGate.Set();
        Assert.Equal(0, await first);
        Assert.Equal(new long[] { 0, 0 }, await Task.WhenAll(fits));
        Assert.Equal([3L], LogFixtures.ReadAll(log, 1).Select(r => LogFixtures.TagOf(r)).ToArray());
        Assert.Equal([2L], LogFixtures.ReadAll(log, 2).Select(r => LogFixtures.TagOf(r)).ToArray());
    }

    [Theory]
    [InlineData(new[] { 10, 5 })]
    [InlineData(new[] { 10, 0, 10 })]
    [InlineData(new int[0])]
    public void Lengths_that_do_not_describe_the_buffer_are_refused_and_nothing_is_appended(int[] lengths)
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        Assert.Throws<ArgumentException>(() => { _ = log.AppendRecords([new PartitionRecords(0, new byte[20], lengths)]); });
        Assert.Equal(0, log.PendingBytes);
    }
}

// Goal: a reader returns durable records only, in order, from any starting position (including the middle of
// a segment), fills a batch no further than its capacity, and re-verifies each record's CRC. Method: the
// flusher is held so appended records stay pending while the reader looks; segments are kept tiny so reads
// cross them; a byte flipped on disk after start-up must be caught by the reader.
namespace Tollbooth.Log.Tests;

public sealed class SegmentReaderTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Reader_never_returns_records_beyond_the_durable_end()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        await log.AppendAsync(0, [LogFixtures.Payload(0, 16), LogFixtures.Payload(1, 16)]);
        using ILogReader reader = log.OpenReader(0, 0);
        var batch = new LogReadBatch(100, 1 << 20);

        log.FlusherGate.Reset();
        Task<long> pending = log.AppendAsync(0, [LogFixtures.Payload(2, 16), LogFixtures.Payload(3, 16)]);
        Assert.Equal(2, reader.Read(batch));
        Assert.Equal(2, log.DurableEnd(0));
        Assert.Equal(0, reader.Read(batch));
        Assert.Equal(2, reader.Position);
        Assert.False(pending.IsCompleted);

        log.FlusherGate.Set();
        Assert.Equal(2, await pending);
        Assert.Equal(2, reader.Read(batch));
        Assert.Equal(2, batch.FirstPosition);
        Assert.Equal(3, LogFixtures.TagOf(batch[1]));
        Assert.Equal(4, reader.Position);
    }

    [Fact]
    public async Task Tailing_reader_sees_every_record_once_in_order_while_appends_roll_segments()
    {
        const int Total = 600;
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, segmentBytesMax: 512));
        Task appender = Task.Run(async () =>
        {
            for (int i = 0; i < Total; i += 3)
            {
                await log.AppendAsync(0, [LogFixtures.Payload(i, 20), LogFixtures.Payload(i + 1, 20), LogFixtures.Payload(i + 2, 20)]);
            }
        });

        using ILogReader reader = log.OpenReader(0, 0);
        var batch = new LogReadBatch(5, 1 << 20);
        long expected = 0;
        while (expected < Total)
        {
            await log.WaitForDurableAsync(0, reader.Position, CancellationToken.None);
            int count = reader.Read(batch);
            Assert.True(batch.FirstPosition + count <= log.DurableEnd(0));
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(expected++, LogFixtures.TagOf(batch[i]));
            }
        }

        await appender;
        Assert.Equal(0, reader.Read(batch));
        Assert.True(LogFixtures.Segments(_directory.Path, 0).Length > 10);
    }

    [Fact]
    public async Task Reader_opened_in_the_middle_of_a_segment_starts_at_that_position()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, segmentBytesMax: 300));
        for (int i = 0; i < 20; i++)
        {
            await log.AppendAsync(0, [LogFixtures.Payload(3 * i, 40), LogFixtures.Payload((3 * i) + 1, 40), LogFixtures.Payload((3 * i) + 2, 40)]);
        }

        Assert.True(LogFixtures.Segments(_directory.Path, 0).Length > 3);
        for (long start = 0; start <= 60; start++)
        {
            List<byte[]> records = LogFixtures.ReadAll(log, 0, start, batchRecords: 4);
            Assert.Equal(60 - start, records.Count);
            for (int i = 0; i < records.Count; i++)
            {
                Assert.Equal(start + i, LogFixtures.TagOf(records[i]));
            }
        }
    }

    [Fact]
    public async Task Reader_stops_when_the_batch_is_full_and_goes_on_from_there()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        byte[][] payloads = Enumerable.Range(0, 10).Select(i => LogFixtures.Payload(i, 300)).ToArray();
        await log.AppendAsync(0, payloads);
        using ILogReader reader = log.OpenReader(0, 0);
        var batch = new LogReadBatch(100, 1024);

        Assert.Equal(3, reader.Read(batch));
        Assert.Equal(3, reader.Position);
        Assert.Equal(3, reader.Read(batch));
        Assert.Equal(3, batch.FirstPosition);
        Assert.Equal(5, LogFixtures.TagOf(batch[2]));
    }

    [Fact]
    public void Reader_opened_beyond_the_durable_end_throws()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        log.FlusherGate.Reset();
        _ = log.AppendAsync(0, [LogFixtures.Payload(0, 16)]);
        Assert.Throws<ArgumentOutOfRangeException>(() => log.OpenReader(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => log.OpenReader(0, -1));
        log.OpenReader(0, 0).Dispose();
        log.FlusherGate.Set();
    }

    [Fact]
    public async Task Reader_throws_corrupt_for_a_record_damaged_on_disk_after_start_up()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        await log.AppendAsync(0, [LogFixtures.Payload(0, 24), LogFixtures.Payload(1, 24), LogFixtures.Payload(2, 24)]);
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 0);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.Position = 32 + 20;
            stream.WriteByte(0x7F);
        }

        using ILogReader reader = log.OpenReader(0, 0);
        var exception = Assert.Throws<CorruptLogException>(() => reader.Read(new LogReadBatch(10, 1024)));
        Assert.Equal(path, exception.File);
        Assert.Equal(32, exception.Offset);
    }
}

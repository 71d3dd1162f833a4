// Goal: what is appended reads back, byte for byte and in order, across segment rolls and across a
// close and reopen, with positions that continue where they stopped. Method: seeded random payloads of
// random sizes appended in random batch sizes to a log with tiny segments; read back through small batches.
namespace Tollbooth.Log.Tests;

public sealed class SegmentLogRoundTripTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Appended_records_read_back_in_order_across_segment_rolls()
    {
        var random = new Random(TestSeed.Next(output));
        var expected = new List<byte[]>();
        using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, segmentBytesMax: 1024)))
        {
            await AppendRandomAsync(log, random, expected, 300);
            Assert.Equal(expected.Count, log.DurableEnd(0));
            AssertEqualRecords(expected, LogFixtures.ReadAll(log, 0));
        }

        Assert.True(LogFixtures.Segments(_directory.Path, 0).Length > 5, "the test should roll several segments");
    }

    [Fact]
    public async Task Segment_files_are_named_by_their_first_position()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, segmentBytesMax: 100));
        for (int i = 0; i < 10; i++)
        {
            await log.AppendAsync(0, [LogFixtures.Payload(i, 60), LogFixtures.Payload(i, 60)]);
        }

        // Each commit of 2 x 68 bytes fills a segment, so the next commit starts a new one at its first position.
        string[] expected = Enumerable.Range(0, 10).Select(i => LogFixtures.SegmentPath(_directory.Path, 0, 2L * i)).ToArray();
        Assert.Equal(expected, LogFixtures.Segments(_directory.Path, 0));
    }

    [Fact]
    public async Task Reopen_after_dispose_keeps_every_record_and_positions_continue()
    {
        var random = new Random(TestSeed.Next(output));
        var expected = new List<byte[]>();
        SegmentLogOptions options = LogFixtures.Options(_directory.Path, partitions: 3, segmentBytesMax: 2048);
        using (SegmentLog log = SegmentLog.Open(options))
        {
            await AppendRandomAsync(log, random, expected, 150);
        }

        using (SegmentLog log = SegmentLog.Open(options))
        {
            Assert.Equal(expected.Count, log.DurableEnd(0));
            Assert.Equal(0, log.DurableEnd(1));
            long next = await log.AppendAsync(0, [LogFixtures.Payload(-1, 30)]);
            Assert.Equal(expected.Count, next);
            expected.Add(LogFixtures.Payload(-1, 30));
            AssertEqualRecords(expected, LogFixtures.ReadAll(log, 0));
        }
    }

    [Fact]
    public async Task Dispose_commits_what_is_pending_and_completes_its_appends()
    {
        var appends = new List<Task<long>>();
        using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path)))
        {
            log.FlusherGate.Reset();
            for (int i = 0; i < 20; i++)
            {
                appends.Add(log.AppendAsync(0, [LogFixtures.Payload(i, 16)]));
            }
        }

        for (int i = 0; i < appends.Count; i++)
        {
            Assert.True(appends[i].IsCompletedSuccessfully);
            Assert.Equal(i, await appends[i]);
        }

        using SegmentLog reopened = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        Assert.Equal(20, reopened.DurableEnd(0));
    }

    [Fact]
    public void Append_after_dispose_throws_object_disposed()
    {
        SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        log.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { _ = log.AppendAsync(0, [LogFixtures.Payload(1, 8)]); });
    }

    [Fact]
    public void New_log_creates_each_partition_with_one_empty_segment_at_position_zero()
    {
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, partitions: 12));
        for (int partition = 0; partition < 12; partition++)
        {
            Assert.Equal(0, log.DurableEnd(partition));
            Assert.Equal([LogFixtures.SegmentPath(_directory.Path, partition, 0)], LogFixtures.Segments(_directory.Path, partition));
        }
    }

    private static async Task AppendRandomAsync(SegmentLog log, Random random, List<byte[]> expected, int appends)
    {
        for (int i = 0; i < appends; i++)
        {
            var batch = new byte[random.Next(1, 5)][];
            for (int j = 0; j < batch.Length; j++)
            {
                batch[j] = LogFixtures.Payload(expected.Count + j, random.Next(1, 200), random);
            }

            long first = await log.AppendAsync(0, batch);
            Assert.Equal(expected.Count, first);
            expected.AddRange(batch);
        }
    }

    private static void AssertEqualRecords(List<byte[]> expected, List<byte[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"record {i} differs");
        }
    }
}

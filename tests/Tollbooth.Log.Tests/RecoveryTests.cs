// Goal: start-up recovery keeps every record before a torn tail, cuts the tail with a warning, and refuses
// damage anywhere else with CorruptLogException naming the file and the damaged record's offset. Method: a
// log of fixed-size records (payload 24 bytes, so record k of a segment is at offset 32k) is written and
// closed; the test then cuts, extends or flips bytes of its segment files and opens the log again.
namespace Tollbooth.Log.Tests;

public sealed class RecoveryTests : IDisposable
{
    private const int PayloadBytes = 24;
    private const int FrameBytes = FrameHeader.Size + PayloadBytes;
    private const int Records = 10;

    private readonly TempDirectory _directory = new();
    private readonly List<string> _warnings = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Torn_last_record_is_cut_at_every_offset_inside_it_and_everything_before_it_is_kept()
    {
        byte[] segment = await WriteOneSegmentAsync();
        int lastStart = (Records - 1) * FrameBytes;
        for (int cut = 1; cut < FrameBytes; cut++)
        {
            using var directory = new TempDirectory();
            string path = LogFixtures.SegmentPath(directory.Path, 0, 0);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, segment.AsSpan(0, lastStart + cut).ToArray());
            var warnings = new List<string>();
            using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(directory.Path, warnings: warnings)))
            {
                Assert.Equal(Records - 1, log.DurableEnd(0));
                Assert.Equal(Records - 1, LogFixtures.ReadAll(log, 0).Count);
                Assert.Equal(Records - 1, await log.AppendAsync(0, [LogFixtures.Payload(99, PayloadBytes)]));
            }

            string warning = Assert.Single(warnings);
            Assert.Contains(path, warning);
            Assert.Contains($"offset {lastStart}", warning);
            Assert.Contains($"{cut} bytes", warning);
            Assert.Equal(Records * FrameBytes, new FileInfo(path).Length);
        }
    }

    [Fact]
    public async Task Segment_ending_at_a_record_boundary_opens_without_a_warning()
    {
        await WriteOneSegmentAsync();
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, warnings: _warnings));
        Assert.Equal(Records, log.DurableEnd(0));
        Assert.Empty(_warnings);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(FrameBytes - 1)]
    public async Task Flipped_byte_in_the_last_record_is_cut_as_a_torn_tail(int byteInFrame)
    {
        byte[] segment = await WriteOneSegmentAsync();
        int lastStart = (Records - 1) * FrameBytes;
        segment[lastStart + byteInFrame] ^= 0xFF;
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 0);
        File.WriteAllBytes(path, segment);

        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, warnings: _warnings));
        Assert.Equal(Records - 1, log.DurableEnd(0));
        Assert.Contains($"offset {lastStart}", Assert.Single(_warnings));
        Assert.Equal(lastStart, new FileInfo(path).Length);
    }

    [Fact]
    public async Task Trailing_zeros_are_cut_as_a_torn_tail()
    {
        byte[] segment = await WriteOneSegmentAsync();
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 0);
        File.WriteAllBytes(path, [.. segment, .. new byte[100]]);

        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, warnings: _warnings));
        Assert.Equal(Records, log.DurableEnd(0));
        string warning = Assert.Single(_warnings);
        Assert.Contains($"100 bytes at offset {Records * FrameBytes}", warning);
        Assert.Equal(Records * FrameBytes, new FileInfo(path).Length);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(4, 0)]
    [InlineData(4, 5)]
    [InlineData(4, 20)]
    [InlineData(Records - 2, FrameBytes - 1)]
    public async Task Flipped_byte_in_an_interior_record_of_the_last_segment_throws_corrupt_naming_file_and_offset(int record, int byteInFrame)
    {
        byte[] segment = await WriteOneSegmentAsync();
        segment[(record * FrameBytes) + byteInFrame] ^= 0x40;
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 0);
        File.WriteAllBytes(path, segment);

        var exception = Assert.Throws<CorruptLogException>(() => SegmentLog.Open(LogFixtures.Options(_directory.Path, warnings: _warnings)));
        Assert.Equal(path, exception.File);
        Assert.Equal(record * FrameBytes, exception.Offset);
        Assert.Equal(segment.Length, new FileInfo(path).Length);
        Assert.Empty(_warnings);
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(3, 0)]
    [InlineData(3, 30)]
    public async Task Flipped_byte_in_a_segment_before_the_last_throws_corrupt_naming_file_and_offset(int recordInSegment, int byteInFrame)
    {
        await WriteThreeSegmentsAsync();
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 4);
        byte[] segment = File.ReadAllBytes(path);
        segment[(recordInSegment * FrameBytes) + byteInFrame] ^= 0x01;
        File.WriteAllBytes(path, segment);

        var exception = Assert.Throws<CorruptLogException>(() => SegmentLog.Open(LogFixtures.Options(_directory.Path, warnings: _warnings)));
        Assert.Equal(path, exception.File);
        Assert.Equal(recordInSegment * FrameBytes, exception.Offset);
        Assert.Contains(path, exception.Message);
    }

    [Fact]
    public async Task Cut_segment_before_the_last_throws_corrupt_instead_of_losing_its_tail()
    {
        await WriteThreeSegmentsAsync();
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 4);
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.SetLength(stream.Length - 5);
        }

        var exception = Assert.Throws<CorruptLogException>(() => SegmentLog.Open(LogFixtures.Options(_directory.Path)));
        Assert.Equal(path, exception.File);
        Assert.Equal(3 * FrameBytes, exception.Offset);
    }

    [Fact]
    public async Task Segment_named_after_a_position_the_records_before_it_do_not_reach_throws_corrupt()
    {
        await WriteThreeSegmentsAsync();
        File.Move(LogFixtures.SegmentPath(_directory.Path, 0, 8), LogFixtures.SegmentPath(_directory.Path, 0, 9));

        var exception = Assert.Throws<CorruptLogException>(() => SegmentLog.Open(LogFixtures.Options(_directory.Path)));
        Assert.Equal(LogFixtures.SegmentPath(_directory.Path, 0, 9), exception.File);
    }

    [Fact]
    public async Task Last_record_above_a_lowered_record_bytes_max_is_refused_not_cut()
    {
        await WriteOneSegmentAsync();
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 0);
        using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path)))
        {
            await log.AppendAsync(0, [LogFixtures.Payload(Records, 500)]);
        }

        SegmentLogOptions lowered = new() { Directory = _directory.Path, PartitionCount = 1, RecordBytesMax = 100, Warn = _warnings.Add };
        var exception = Assert.Throws<InvalidOperationException>(() => SegmentLog.Open(lowered));
        Assert.Contains($"offset {Records * FrameBytes} of {path}", exception.Message);
        Assert.Equal((Records * FrameBytes) + FrameHeader.Size + 500, new FileInfo(path).Length);
        Assert.Empty(_warnings);
    }

    [Fact]
    public void Partition_directory_without_segments_starts_empty_at_position_zero()
    {
        Directory.CreateDirectory(_directory.Combine("p00"));
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path));
        Assert.Equal(0, log.DurableEnd(0));
        Assert.Empty(LogFixtures.ReadAll(log, 0));
    }

    /// <summary>One partition, one segment of <see cref="Records"/> records; returns the segment's bytes.</summary>
    private async Task<byte[]> WriteOneSegmentAsync()
    {
        using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path)))
        {
            for (int i = 0; i < Records; i++)
            {
                await log.AppendAsync(0, [LogFixtures.Payload(i, PayloadBytes)]);
            }
        }

        string[] segments = LogFixtures.Segments(_directory.Path, 0);
        Assert.Single(segments);
        return File.ReadAllBytes(segments[0]);
    }

    /// <summary>Segments 0, 4 and 8 of 4 records each: every commit of 4 x 32 bytes fills a 100-byte segment.</summary>
    private async Task WriteThreeSegmentsAsync()
    {
        using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, segmentBytesMax: 100)))
        {
            for (int i = 0; i < 3; i++)
            {
                byte[][] batch = Enumerable.Range(0, 4).Select(j => LogFixtures.Payload((i * 4) + j, PayloadBytes)).ToArray();
                await log.AppendAsync(0, batch);
            }
        }

        Assert.Equal(3, LogFixtures.Segments(_directory.Path, 0).Length);
    }
}

// Goal: every way a segment file can be found after a crash or a bad disk either recovers with every whole
// record kept (a torn tail: the file cut at any byte, garbage or a zeroed block after the last record), or
// stops start-up with CorruptLogException naming the file and the first damaged record's offset (any damage
// with a valid record after it, and any damage to a closed segment), never skipping a record. This extends
// RecoveryTests (one record cut at every offset) to whole files. Method: one partition of records whose frame
// size (48 bytes) does not divide 4096, so a 4 KiB block starts inside a record; the test damages copies of
// the closed segment file and opens the log again. Random damage is seeded (TOLLBOOTH_TEST_SEED).
namespace Tollbooth.Log.Tests;

public sealed class DamagedSegmentTests(ITestOutputHelper output) : IDisposable
{
    private const int PayloadBytes = 40;
    private const int FrameBytes = FrameHeader.Size + PayloadBytes;
    private const int Records = 200;
    private const int BlockBytes = 4096;

    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Segment_cut_at_every_byte_offset_keeps_exactly_the_whole_records_before_the_cut()
    {
        byte[] segment = await WriteSegmentAsync(Records / 4);
        for (int cut = 0; cut <= segment.Length; cut++)
        {
            (long end, List<byte[]> records, List<string> warnings) = Reopen(segment.AsSpan(0, cut).ToArray());
            int whole = cut / FrameBytes;
            Assert.True(whole == end, $"cut at {cut}: durable end {end}, expected {whole}");
            AssertSameRecords(segment, records, whole);
            Assert.Equal(cut % FrameBytes == 0 ? 0 : 1, warnings.Count);
        }
    }

    [Fact]
    public async Task Random_garbage_after_the_last_record_is_cut_and_every_record_is_kept()
    {
        int seed = TestSeed.Next(output);
        var random = new Random(seed);
        byte[] segment = await WriteSegmentAsync(Records);
        for (int trial = 0; trial < 50; trial++)
        {
            var garbage = new byte[1 + random.Next(2 * BlockBytes)];
            random.NextBytes(garbage);
            (long end, List<byte[]> records, List<string> warnings) = Reopen([.. segment, .. garbage]);
            Assert.True(end == Records, $"seed {seed}, trial {trial}: {garbage.Length} bytes of garbage left a durable end of {end}");
            AssertSameRecords(segment, records, Records);
            Assert.Contains($"{garbage.Length} bytes at offset {segment.Length}", Assert.Single(warnings));
        }
    }

    [Fact]
    public async Task Zeroed_4_KiB_block_after_the_last_record_is_cut_and_every_record_is_kept()
    {
        byte[] segment = await WriteSegmentAsync(Records);
        (long end, List<byte[]> records, List<string> warnings) = Reopen([.. segment, .. new byte[BlockBytes]]);
        Assert.Equal(Records, end);
        AssertSameRecords(segment, records, Records);
        Assert.Contains($"{BlockBytes} bytes at offset {segment.Length}", Assert.Single(warnings));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Zeroed_4_KiB_block_inside_the_last_segment_stops_start_up_naming_file_and_offset(int block)
    {
        byte[] segment = await WriteSegmentAsync(Records);
        Array.Clear(segment, block * BlockBytes, BlockBytes);
        string path = Rewrite(segment);

        var exception = Assert.Throws<CorruptLogException>(() => SegmentLog.Open(LogFixtures.Options(_directory.Path)));
        Assert.Equal(path, exception.File);
        Assert.Equal(block * BlockBytes / FrameBytes * FrameBytes, exception.Offset);
        Assert.Equal(segment.Length, new FileInfo(path).Length);
    }

    [Fact]
    public async Task Flipped_bit_in_any_interior_record_stops_start_up_naming_file_and_offset()
    {
        int seed = TestSeed.Next(output);
        var random = new Random(seed);
        byte[] original = await WriteSegmentAsync(Records / 4);
        for (int record = 0; record < (Records / 4) - 1; record++)
        {
            byte[] segment = original.ToArray();
            int bit = random.Next(FrameBytes * 8);
            segment[(record * FrameBytes) + (bit / 8)] ^= (byte)(1 << (bit % 8));
            string path = Rewrite(segment);

            var exception = Assert.Throws<CorruptLogException>(() => SegmentLog.Open(LogFixtures.Options(_directory.Path)));
            Assert.True(path == exception.File && record * FrameBytes == exception.Offset, $"seed {seed}: bit {bit} of record {record} reported at {exception.File} offset {exception.Offset}");
            Assert.Contains($"offset {record * FrameBytes}", exception.Message);
            Assert.Equal(segment.Length, new FileInfo(path).Length);
        }
    }

    [Fact]
    public async Task Zeroed_4_KiB_block_in_a_closed_segment_stops_start_up_even_at_its_end()
    {
        byte[] segment = await WriteSegmentAsync(Records);
        string closed = LogFixtures.SegmentPath(_directory.Path, 0, 0);
        using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, segmentBytesMax: segment.Length)))
        {
            await log.AppendAsync(0, [LogFixtures.Payload(Records, PayloadBytes)]);
        }

        Assert.Equal(2, LogFixtures.Segments(_directory.Path, 0).Length);
        int blockStart = segment.Length - BlockBytes;
        Array.Clear(segment, blockStart, BlockBytes);
        File.WriteAllBytes(closed, segment);

        var exception = Assert.Throws<CorruptLogException>(() => SegmentLog.Open(LogFixtures.Options(_directory.Path, segmentBytesMax: segment.Length)));
        Assert.Equal(closed, exception.File);
        Assert.Equal(blockStart / FrameBytes * FrameBytes, exception.Offset);
    }

    /// <summary>One segment of <paramref name="records"/> records, written one commit each; returns its bytes.</summary>
    private async Task<byte[]> WriteSegmentAsync(int records)
    {
        var random = new Random(records);
        using (SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path)))
        {
            for (int i = 0; i < records; i++)
            {
                await log.AppendAsync(0, [LogFixtures.Payload(i, PayloadBytes, random)]);
            }
        }

        return File.ReadAllBytes(Assert.Single(LogFixtures.Segments(_directory.Path, 0)));
    }

    private string Rewrite(byte[] segment)
    {
        string path = LogFixtures.SegmentPath(_directory.Path, 0, 0);
        File.WriteAllBytes(path, segment);
        return path;
    }

    /// <summary>Writes <paramref name="segment"/> as the only segment of a fresh log and opens it: durable end, records, warnings.</summary>
    private static (long End, List<byte[]> Records, List<string> Warnings) Reopen(byte[] segment)
    {
        using var directory = new TempDirectory();
        string path = LogFixtures.SegmentPath(directory.Path, 0, 0);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, segment);
        var warnings = new List<string>();
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(directory.Path, warnings: warnings));
        return (log.DurableEnd(0), LogFixtures.ReadAll(log, 0), warnings);
    }

    private static void AssertSameRecords(byte[] segment, List<byte[]> records, int count)
    {
        Assert.Equal(count, records.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.True(segment.AsSpan((i * FrameBytes) + FrameHeader.Size, PayloadBytes).SequenceEqual(records[i]), $"record {i} differs after recovery");
        }
    }
}

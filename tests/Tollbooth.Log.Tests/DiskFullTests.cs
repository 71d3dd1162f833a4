// Goal: a full disk is not fail-stop. ENOSPC (or EDQUOT) on a segment write, or on creating the next segment,
// refuses the appends of that batch with LogDiskFullException (never acknowledged, holding no position); the
// segment is cut back durably; later appends are tried again and acknowledged once there is space, without a
// restart; after a power loss every acknowledged record is there and no refused one. A failed fdatasync stays
// fail-stop whatever its errno (ENOSPC included), and so does a failed cut back. Method: the real SegmentLog over
// SimulatedFileSystem, whose faults fire at a chosen write or fdatasync; most tests run its commits on the test
// thread (OpenWithoutFlusherForTests), one runs the flusher thread.
namespace Tollbooth.Log.Tests;

public sealed class DiskFullTests(ITestOutputHelper output)
{
    private const string Directory = "/data/log";

    [Fact]
    public async Task Enospc_at_the_nth_write_refuses_that_batch_and_every_acknowledged_record_is_there_after_a_power_loss()
    {
        int seed = TestSeed.Next(output);
        for (int failing = 1; failing <= 50; failing++)
        {
            var files = NewFileSystem(seed + failing);
            files.WriteFailsWithNoSpaceAt = failing;
            var random = new Random(seed + failing);
            var acknowledged = new List<long>[] { [], [] };
            int refused = 0;
            using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, partitions: 2, segmentBytesMax: 200)))
            {
                long tag = 0;
                for (int batch = 0; batch < 60; batch++)
                {
                    var appends = new List<(int Partition, long[] Tags, Task<long> Append)>();
                    for (int i = random.Next(1, 4); i > 0; i--)
                    {
                        int partition = random.Next(2);
                        long[] tags = [tag++, tag++];
                        appends.Add((partition, tags, log.AppendAsync(partition, [LogFixtures.Payload(tags[0], 20), LogFixtures.Payload(tags[1], 30)])));
                    }

                    log.CommitPendingForTests();
                    foreach ((int partition, long[] tags, Task<long> append) in appends)
                    {
                        if (append.IsCompletedSuccessfully)
                        {
                            Assert.Equal(acknowledged[partition].Count, await append);
                            acknowledged[partition].AddRange(tags);
                        }
                        else
                        {
                            Assert.IsType<LogDiskFullException>(append.Exception!.InnerException);
                            refused++;
                        }
                    }
                }

                Assert.False(log.IsFailed, $"write {failing}: a full disk stopped the log");
            }

            Assert.True(refused > 0, $"write {failing}: the ENOSPC refused nothing");
            files.Restart(powerLoss: true);
            using SegmentLog recovered = SegmentLog.OpenWithoutFlusherForTests(Options(files, partitions: 2, segmentBytesMax: 200));
            for (int partition = 0; partition < 2; partition++)
            {
                List<long> tags = LogFixtures.ReadAll(recovered, partition).ConvertAll(payload => LogFixtures.TagOf(payload));
                Assert.True(acknowledged[partition].SequenceEqual(tags), $"seed {seed}, ENOSPC at write {failing}, p{partition}: acknowledged [{string.Join(',', acknowledged[partition])}], recovered [{string.Join(',', tags)}]");
            }
        }
    }

    [Fact]
    public async Task Full_disk_refuses_appends_and_the_same_log_takes_them_again_when_space_returns()
    {
        var warnings = new List<string>();
        var files = NewFileSystem(1);
        using SegmentLog log = SegmentLog.Open(Options(files, partitions: 1, segmentBytesMax: 1 << 20, warnings));
        Assert.Equal(0, await log.AppendAsync(0, [LogFixtures.Payload(0, 16)]));

        files.DiskFull = true;
        for (int i = 0; i < 3; i++)
        {
            var refused = await Assert.ThrowsAsync<LogDiskFullException>(() => log.AppendAsync(0, [LogFixtures.Payload(100 + i, 16)]));
            Assert.Contains("disk is full", refused.Message);
        }

        Assert.True(log.IsDiskFull);
        Assert.False(log.IsFailed);
        Assert.Equal(1, log.DurableEnd(0));

        files.DiskFull = false;
        Assert.Equal(1, await log.AppendAsync(0, [LogFixtures.Payload(1, 16)]));
        Assert.False(log.IsDiskFull);
        Assert.Equal([0L, 1L], LogFixtures.ReadAll(log, 0).ConvertAll(payload => LogFixtures.TagOf(payload)));
        lock (warnings)
        {
            // One warning when the disk filled, one when it had space again: never one per refused batch.
            Assert.Equal(2, warnings.Count);
            Assert.Contains("disk is full", warnings[0]);
            Assert.Contains("space again", warnings[1]);
        }
    }

    [Theory]
    [InlineData(NativeFile.NoSpace)]
    [InlineData(NativeFile.QuotaExceeded)]
    public async Task Appends_pending_behind_a_refused_batch_take_over_its_positions(int errno)
    {
        var files = NewFileSystem(2);
        files.NoSpaceErrno = errno;
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, partitions: 1, segmentBytesMax: 1 << 20));
        Task<long> refused = log.AppendAsync(0, [LogFixtures.Payload(0, 16), LogFixtures.Payload(1, 16)]);
        files.WriteFailsWithNoSpaceAt = files.Writes + 1;

        // The hook runs inside the failing write: this append is pending behind the batch being refused.
        Task<long>? behind = null;
        files.WriteFailing = _ => behind = log.AppendAsync(0, [LogFixtures.Payload(2, 16)]);
        log.CommitPendingForTests();
        files.WriteFailing = null;
        Assert.IsType<LogDiskFullException>(refused.Exception!.InnerException);

        log.CommitPendingForTests();
        Assert.Equal(0, await behind!);
        Assert.Equal([2L], LogFixtures.ReadAll(log, 0).ConvertAll(payload => LogFixtures.TagOf(payload)));
    }

    [Fact]
    public async Task Enospc_creating_the_next_segment_refuses_the_batch_and_the_roll_is_tried_again()
    {
        var files = NewFileSystem(3);
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, partitions: 1, segmentBytesMax: 10));
        Task<long> first = log.AppendAsync(0, [LogFixtures.Payload(0, 16)]);
        log.CommitPendingForTests();
        Assert.Equal(0, await first);

        // The segment is full, so the next batch rolls first; while the disk is full no file can be created.
        files.DiskFull = true;
        long writes = files.Writes;
        Task<long> refused = log.AppendAsync(0, [LogFixtures.Payload(1, 16)]);
        log.CommitPendingForTests();
        Assert.IsType<LogDiskFullException>(refused.Exception!.InnerException);
        Assert.Equal(writes, files.Writes);
        Assert.Single(LogFixtures.Segments(Directory, 0, files));

        files.DiskFull = false;
        Task<long> resumed = log.AppendAsync(0, [LogFixtures.Payload(2, 16)]);
        log.CommitPendingForTests();
        Assert.Equal(1, await resumed);
        Assert.Equal(2, LogFixtures.Segments(Directory, 0, files).Length);
        Assert.Equal([0L, 2L], LogFixtures.ReadAll(log, 0).ConvertAll(payload => LogFixtures.TagOf(payload)));
    }

    [Theory]
    [InlineData(SimulatedFileSystem.InputOutputError)]
    [InlineData(NativeFile.NoSpace)]
    public void Failed_fdatasync_is_fail_stop_whatever_its_errno(int errno)
    {
        var files = NewFileSystem(4);
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, partitions: 1, segmentBytesMax: 1 << 20));
        files.DataSyncFailsAt = files.DataSyncs + 1;
        files.DataSyncErrno = errno;
        Task<long> append = log.AppendAsync(0, [LogFixtures.Payload(0, 16)]);
        log.CommitPendingForTests();

        var failure = Assert.IsType<LogFailedException>(append.Exception!.InnerException);
        Assert.Equal(errno, failure.InnerException!.HResult);
        Assert.True(log.IsFailed);
        Assert.False(log.IsDiskFull);
        Assert.Throws<LogFailedException>(() => { _ = log.AppendAsync(0, [LogFixtures.Payload(1, 16)]); });
    }

    [Fact]
    public void Failed_fdatasync_of_the_cut_after_a_full_disk_is_fail_stop()
    {
        var files = NewFileSystem(5);
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, partitions: 1, segmentBytesMax: 1 << 20));
        files.WriteFailsWithNoSpaceAt = files.Writes + 1;
        files.DataSyncFailsAt = files.DataSyncs + 1;
        Task<long> append = log.AppendAsync(0, [LogFixtures.Payload(0, 16)]);
        log.CommitPendingForTests();

        Assert.IsType<LogFailedException>(append.Exception!.InnerException);
        Assert.True(log.IsFailed);
    }

    [Fact]
    public void Reader_never_serves_bytes_of_a_write_cut_back_after_a_full_disk()
    {
        var files = NewFileSystem(6);
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, partitions: 1, segmentBytesMax: 1 << 20));
        using ILogReader reader = log.OpenReader(0, 0);
        var batch = new LogReadBatch(16, 4096);
        var read = new List<long>();
        var stored = new List<long>();

        // While a write fails, the lagging reader reads on, buffering whatever part of that write landed after the records it reads.
        files.WriteFailing = _ => ReadOn(reader, batch, read);
        for (int round = 0; round < 30; round++)
        {
            stored.AddRange(Store(log, 10 * round, 10 * round + 1));
            files.WriteFailsWithNoSpaceAt = files.Writes + 1;
            Task<long> refused = log.AppendAsync(0, [LogFixtures.Payload(1000 + round, 40), LogFixtures.Payload(2000 + round, 40)]);
            log.CommitPendingForTests();
            Assert.IsType<LogDiskFullException>(refused.Exception!.InnerException);
            stored.AddRange(Store(log, 10 * round + 2, 10 * round + 3));
            ReadOn(reader, batch, read);
            Assert.Equal(stored, read);
        }
    }

    private static long[] Store(SegmentLog log, long first, long second)
    {
        Task<long> append = log.AppendAsync(0, [LogFixtures.Payload(first, 40), LogFixtures.Payload(second, 40)]);
        log.CommitPendingForTests();
        Assert.True(append.IsCompletedSuccessfully);
        return [first, second];
    }

    private static void ReadOn(ILogReader reader, LogReadBatch batch, List<long> read)
    {
        while (reader.Read(batch) is int count and > 0)
        {
            for (int i = 0; i < count; i++)
            {
                read.Add(LogFixtures.TagOf(batch[i]));
            }
        }
    }

    private static SimulatedFileSystem NewFileSystem(int seed)
    {
        var files = new SimulatedFileSystem(seed);
        files.CreateDirectory("/data");
        files.SyncDirectory("/");
        return files;
    }

    private static SegmentLogOptions Options(SimulatedFileSystem files, int partitions, long segmentBytesMax, List<string>? warnings = null)
    {
        return LogFixtures.Options(Directory, partitions, segmentBytesMax, warnings, files);
    }
}

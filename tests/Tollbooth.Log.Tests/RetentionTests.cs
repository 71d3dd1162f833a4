// Goal: retention deletes a closed segment only when every record in it is below the position its readers
// released and it was last written at least the retention ago, oldest first, never the active segment; what is
// left recovers (also when a deleted segment comes back after a crash); a reader below the first position left
// fails loudly instead of skipping; a failed directory fsync while deleting stops the log. Method: a log of
// three 24-byte records per segment (SegmentBytesMax 64, one commit per segment) on the real disk or the
// simulated file system, its age measured with a clock the test moves (no sleeping).
namespace Tollbooth.Log.Tests;

public sealed class RetentionTests(ITestOutputHelper output) : IDisposable
{
    private const int RecordsPerSegment = 3;
    private const int PayloadBytes = 24;

    private readonly TempDirectory _directory = new();
    private readonly ManualTime _time = new(DateTimeOffset.UtcNow);

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Segments_below_every_reader_and_older_than_retention_are_deleted()
    {
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.FromHours(1)));
        await AppendSegmentsAsync(log, 10);
        Assert.Equal(10, LogFixtures.Segments(_directory.Path, 0).Length);

        // Released below 14: segments [0,3) to [9,12) are wholly below it, [12,15) holds 14 and stays.
        log.ReleaseBelow(0, 14);
        Assert.Equal(0, log.DeleteReleasedSegments());
        Assert.Equal(10, LogFixtures.Segments(_directory.Path, 0).Length);

        _time.Advance(TimeSpan.FromMinutes(61));
        Assert.Equal(4, log.DeleteReleasedSegments());
        Assert.Equal(12, log.FirstPosition(0));
        Assert.Equal(LogFixtures.SegmentPath(_directory.Path, 0, 12), LogFixtures.Segments(_directory.Path, 0)[0]);
        Assert.Equal(Enumerable.Range(12, 18).Select(i => (long)i), LogFixtures.ReadAll(log, 0, 12).Select(r => LogFixtures.TagOf(r)));

        // Released at the durable end: every closed segment goes, the active one stays, and appends go on after it.
        log.ReleaseBelow(0, log.DurableEnd(0));
        Assert.Equal(5, log.DeleteReleasedSegments());
        Assert.Equal(27, log.FirstPosition(0));
        Assert.Equal(LogFixtures.SegmentPath(_directory.Path, 0, 27), Assert.Single(LogFixtures.Segments(_directory.Path, 0)));
        Assert.Equal(9, log.SegmentsDeleted);
        await AppendSegmentsAsync(log, 1, firstTag: 30);
        Assert.Equal(Enumerable.Range(27, 6).Select(i => (long)i), LogFixtures.ReadAll(log, 0, 27).Select(r => LogFixtures.TagOf(r)));
    }

    [Fact]
    public async Task A_segment_holding_a_position_still_needed_is_kept_however_old()
    {
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero));
        await AppendSegmentsAsync(log, 4);
        _time.Advance(TimeSpan.FromDays(365));

        // Position 3 is the first of segment [3,6): only [0,3) is wholly below it.
        log.ReleaseBelow(0, 3);
        Assert.Equal(1, log.DeleteReleasedSegments());
        log.ReleaseBelow(0, 5);
        Assert.Equal(0, log.DeleteReleasedSegments());
        Assert.Equal(3, log.FirstPosition(0));

        // A lower release later (another caller's stale view) never brings the bar down, nor deletes more.
        log.ReleaseBelow(0, 1);
        Assert.Equal(0, log.DeleteReleasedSegments());
        Assert.Equal(3, LogFixtures.Segments(_directory.Path, 0).Length);
    }

    [Fact]
    public async Task A_quiet_partition_closes_its_segment_after_the_age_limit_so_retention_can_reach_it()
    {
        // Segments far larger than what is written: only age closes them.
        SegmentLogOptions options = Options(TimeSpan.Zero);
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(new SegmentLogOptions
        {
            Directory = options.Directory, FileSystem = options.FileSystem, PartitionCount = 1, SegmentBytesMax = 1 << 20,
            PendingBytesMax = options.PendingBytesMax, RecordBytesMax = options.RecordBytesMax, Retention = TimeSpan.Zero,
            SegmentAgeMax = TimeSpan.FromHours(24), Time = _time,
        });
        Assert.Equal(0, await AppendAsync(log, 0));
        _time.Advance(TimeSpan.FromHours(23));
        Assert.Equal(3, await AppendAsync(log, 3));
        Assert.Single(LogFixtures.Segments(_directory.Path, 0));

        // A day after the segment began, the next commit starts a new one; the old one can then be deleted.
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(6, await AppendAsync(log, 6));
        Assert.Equal(2, LogFixtures.Segments(_directory.Path, 0).Length);
        log.ReleaseBelow(0, log.DurableEnd(0));
        Assert.Equal(1, log.DeleteReleasedSegments());
        Assert.Equal(6, log.FirstPosition(0));

        // Three quiet days later the segment holding 6..8 is old too: the next commit starts another, nothing is lost.
        _time.Advance(TimeSpan.FromDays(3));
        Assert.Equal(9, await AppendAsync(log, 9));
        Assert.Equal(LogFixtures.SegmentPath(_directory.Path, 0, 9), LogFixtures.Segments(_directory.Path, 0)[^1]);
        Assert.Equal(Enumerable.Range(6, 6).Select(i => (long)i), LogFixtures.ReadAll(log, 0, 6).Select(r => LogFixtures.TagOf(r)));
    }

    [Fact]
    public async Task Without_retention_every_segment_is_kept()
    {
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(retention: null));
        await AppendSegmentsAsync(log, 4);
        _time.Advance(TimeSpan.FromDays(365));
        log.ReleaseBelow(0, log.DurableEnd(0));
        Assert.Equal(0, log.DeleteReleasedSegments());
        Assert.Equal(4, LogFixtures.Segments(_directory.Path, 0).Length);
        Assert.Equal(0, log.FirstPosition(0));
    }

    [Fact]
    public async Task Recovery_after_deleting_old_segments_keeps_every_later_record()
    {
        string lastDeleted;
        byte[] comesBack;
        using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero)))
        {
            await AppendSegmentsAsync(log, 6);
            lastDeleted = LogFixtures.SegmentPath(_directory.Path, 0, 6);
            comesBack = File.ReadAllBytes(lastDeleted);
            log.ReleaseBelow(0, 9);
            Assert.Equal(3, log.DeleteReleasedSegments());
        }

        using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero)))
        {
            Assert.Equal(9, log.FirstPosition(0));
            Assert.Equal(18, log.DurableEnd(0));
            Assert.Equal(Enumerable.Range(9, 9).Select(i => (long)i), LogFixtures.ReadAll(log, 0, 9).Select(r => LogFixtures.TagOf(r)));
            Assert.Equal(18, await AppendAsync(log, 18));
        }

        // A deleted segment whose unlink a power loss undid is back, right before the first one left: it is kept
        // (and deleted again once released in this process).
        File.WriteAllBytes(lastDeleted, comesBack);
        using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero)))
        {
            Assert.Equal(6, log.FirstPosition(0));
            Assert.Equal(Enumerable.Range(6, 15).Select(i => (long)i), LogFixtures.ReadAll(log, 0, 6).Select(r => LogFixtures.TagOf(r)));
            Assert.Equal(0, log.DeleteReleasedSegments());
            log.ReleaseBelow(0, 9);
            Assert.Equal(1, log.DeleteReleasedSegments());
            Assert.Equal(9, log.FirstPosition(0));
        }
    }

    [Fact]
    public async Task Opening_a_reader_below_the_first_retained_position_fails_clearly()
    {
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero));
        await AppendSegmentsAsync(log, 4);
        using ILogReader behind = log.OpenReader(0, 1);
        log.ReleaseBelow(0, 6);
        Assert.Equal(2, log.DeleteReleasedSegments());

        LogRecordsDeletedException refused = Assert.Throws<LogRecordsDeletedException>(() => log.OpenReader(0, 0));
        Assert.Equal("Partition 0 of the click log starts at position 6: the records before it were deleted by the log's retention " +
            "(Log:RetentionHours) once nothing needed them, so no reader can start at position 0.", refused.Message);
        Assert.Equal(6, Assert.Throws<LogRecordsDeletedException>(() => log.OpenReader(0, 5)).FirstPosition);
        Assert.Equal(6, LogFixtures.ReadAll(log, 0, 6).Count);

        // A reader left behind the deletion stops there, loudly, rather than go on from a later position.
        var batch = new LogReadBatch(100, 1 << 20);
        Assert.Equal(1, Assert.Throws<LogRecordsDeletedException>(() => behind.Read(batch)).Position);
    }

    [Fact]
    public async Task Deleted_segments_stay_deleted_after_a_power_loss_right_after_the_pass()
    {
        var files = new SimulatedFileSystem(TestSeed.Next(output)) { Time = _time };
        files.CreateDirectory("/sim");
        files.SyncDirectory("/");
        using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero, files, "/sim/log")))
        {
            await AppendSegmentsAsync(log, 5);
            long directorySyncs = files.DirectorySyncs;
            log.ReleaseBelow(0, 9);
            Assert.Equal(3, log.DeleteReleasedSegments());

            // One directory fsync per unlink, each before the next unlink.
            Assert.Equal(directorySyncs + 3, files.DirectorySyncs);
            files.CrashNow();
        }

        files.Restart(powerLoss: true);
        using SegmentLog recovered = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero, files, "/sim/log"));
        Assert.Equal(9, recovered.FirstPosition(0));
        Assert.Equal(Enumerable.Range(9, 6).Select(i => (long)i), LogFixtures.ReadAll(recovered, 0, 9).Select(r => LogFixtures.TagOf(r)));
    }

    [Fact]
    public async Task A_failed_directory_fsync_while_deleting_stops_the_log()
    {
        var files = new SimulatedFileSystem(seed: 1) { Time = _time };
        files.CreateDirectory("/sim");
        using SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(TimeSpan.Zero, files, "/sim/log"));
        await AppendSegmentsAsync(log, 3);
        files.DirectorySyncFailsAt = files.DirectorySyncs + 1;
        log.ReleaseBelow(0, 6);

        LogFailedException failure = Assert.Throws<LogFailedException>(() => log.DeleteReleasedSegments());
        Assert.Contains("fsync failed", failure.Message);
        Assert.True(log.IsFailed);
        Assert.Throws<LogFailedException>(() => { _ = log.AppendAsync(0, [LogFixtures.Payload(9, PayloadBytes)]); });
        Assert.Throws<LogFailedException>(() => log.DeleteReleasedSegments());
    }

    [Fact]
    public async Task The_retention_thread_deletes_what_a_reader_releases_without_being_asked()
    {
        using SegmentLog log = SegmentLog.Open(Options(TimeSpan.Zero));
        for (int segment = 0; segment < 4; segment++)
        {
            // One append at a time: each is one group commit, so each fills one segment.
            Assert.Equal(segment * RecordsPerSegment, await log.AppendAsync(0, Payloads(segment * RecordsPerSegment)));
        }

        log.ReleaseBelow(0, 6);
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (log.FirstPosition(0) != 6 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(6, log.FirstPosition(0));
        Assert.Equal(2, LogFixtures.Segments(_directory.Path, 0).Length);
        Assert.Equal(12, await log.AppendAsync(0, Payloads(12)));
    }

    private SegmentLogOptions Options(TimeSpan? retention, ILogFileSystem? files = null, string? directory = null) => new()
    {
        Directory = directory ?? _directory.Path,
        FileSystem = files ?? RealLogFileSystem.Instance,
        PartitionCount = 1,
        SegmentBytesMax = 64,
        PendingBytesMax = 1 << 20,
        RecordBytesMax = 1024,
        Retention = retention,
        Time = _time,
    };

    /// <summary>Fills <paramref name="segments"/> segments of three records each, tagged with their positions.</summary>
    private static async Task AppendSegmentsAsync(SegmentLog log, int segments, long firstTag = 0)
    {
        for (int segment = 0; segment < segments; segment++)
        {
            long tag = firstTag + (segment * RecordsPerSegment);
            Assert.Equal(tag, await AppendAsync(log, tag));
        }
    }

    private static Task<long> AppendAsync(SegmentLog log, long firstTag)
    {
        Task<long> append = log.AppendAsync(0, Payloads(firstTag));
        log.CommitPendingForTests();
        return append;
    }

    private static byte[][] Payloads(long firstTag) =>
        [.. Enumerable.Range(0, RecordsPerSegment).Select(i => LogFixtures.Payload(firstTag + i, PayloadBytes))];
}

/// <summary>A clock that moves only when told to.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

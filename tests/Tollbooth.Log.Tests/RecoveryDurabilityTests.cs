// Goal: what recovery accepts after a process was killed survives a later power loss. A killed process can leave
// a segment tail written but never fdatasynced, or a directory or segment file whose entry was never fsynced; the page
// cache shows them, so recovery accepts them, processors count them and new records are written after them. Both
// were found by the crash simulation. Method: SimulatedFileSystem, a crash at a chosen operation, a restart as after
// kill -9, then a power loss, over many seeds (each seed picks other parts of the unsynced changes to lose).
namespace Tollbooth.Log.Tests;

public sealed class RecoveryDurabilityTests
{
    private const string Directory = "/data/log";

    [Fact]
    public async Task Unsynced_tail_accepted_after_a_kill_survives_a_later_power_loss()
    {
        // Segments of one record: the next append rolls, so no later fdatasync of that segment covers the tail.
        for (int seed = 0; seed < 40; seed++)
        {
            SimulatedFileSystem files = NewFileSystem(seed);
            using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, segmentBytesMax: 10)))
            {
                // Dies at the fdatasync of the first commit: the record is written, not durable, not acknowledged.
                files.CrashAtOperation = files.Operations + 2;
                _ = log.AppendAsync(0, [LogFixtures.Payload(7, 16)]);
                log.CommitPendingForTests();
                Assert.True(files.Crashed);
            }

            files.Restart(powerLoss: false);
            using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files, segmentBytesMax: 10)))
            {
                Assert.Equal(1, log.DurableEnd(0));
                Task<long> after = log.AppendAsync(0, [LogFixtures.Payload(8, 16)]);
                log.CommitPendingForTests();
                Assert.Equal(1, await after);
            }

            files.Restart(powerLoss: true);
            using SegmentLog recovered = SegmentLog.OpenWithoutFlusherForTests(Options(files, segmentBytesMax: 10));
            Assert.Equal(2, LogFixtures.Segments(Directory, 0, files).Length);
            Assert.Equal([7L, 8L], LogFixtures.ReadAll(recovered, 0).ConvertAll(payload => LogFixtures.TagOf(payload)));
        }
    }

    [Fact]
    public async Task Directories_created_before_a_kill_are_made_durable_by_the_next_start()
    {
        for (int seed = 0; seed < 40; seed++)
        {
            SimulatedFileSystem files = NewFileSystem(seed);

            // Dies at the first fsync of the first start: the log's directories exist only in the page cache.
            files.CrashAtOperation = files.Operations + 2;
            Assert.Throws<SimulatedCrashException>(() => SegmentLog.OpenWithoutFlusherForTests(Options(files)));
            files.Restart(powerLoss: false);
            using (SegmentLog log = SegmentLog.OpenWithoutFlusherForTests(Options(files)))
            {
                Task<long> append = log.AppendAsync(0, [LogFixtures.Payload(1, 16)]);
                log.CommitPendingForTests();
                Assert.Equal(0, await append);
            }

            files.Restart(powerLoss: true);
            using SegmentLog recovered = SegmentLog.OpenWithoutFlusherForTests(Options(files));
            Assert.Equal([1L], LogFixtures.ReadAll(recovered, 0).ConvertAll(payload => LogFixtures.TagOf(payload)));
        }
    }

    private static SimulatedFileSystem NewFileSystem(int seed)
    {
        var files = new SimulatedFileSystem(seed);
        files.CreateDirectory("/data");
        files.SyncDirectory("/");
        return files;
    }

    private static SegmentLogOptions Options(SimulatedFileSystem files, long segmentBytesMax = 1 << 20) =>
        LogFixtures.Options(Directory, segmentBytesMax: segmentBytesMax, files: files);
}

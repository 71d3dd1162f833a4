// Goal: the simulated file system loses exactly what a disk may lose, no less (else the crash simulation proves
// nothing) and no more (else it fails for no reason): synced data and entries survive a power loss; unsynced writes
// keep at most a prefix, torn at any byte or zero-filled; unsynced creates, renames and deletes may be reverted; a
// process crash keeps everything, still unsynced. Method: the same small scenario over many seeds, collecting which
// outcomes occur; each must be possible and none other may appear.
namespace Tollbooth.Log.Tests;

public sealed class SimulatedFileSystemTests
{
    private static readonly byte[] s_synced = [1, 2, 3, 4];
    private static readonly byte[] s_unsynced = [5, 6, 7, 8, 9, 10, 11, 12];

    [Fact]
    public void Power_loss_keeps_synced_bytes_and_at_most_a_torn_or_zero_filled_prefix_of_the_rest()
    {
        var lengths = new HashSet<int>();
        bool zeroFilled = false;
        for (int seed = 0; seed < 300; seed++)
        {
            SimulatedFileSystem files = WithFile(seed, out ILogFile file);
            file.Write(s_synced, 0);
            file.DataSync();
            file.Write(s_unsynced, s_synced.Length);
            files.Restart(powerLoss: true);

            byte[] content = files.ContentOf("/d/f")!;
            Assert.True(content.AsSpan().StartsWith(s_synced), $"seed {seed}: synced bytes lost: [{string.Join(',', content)}]");
            ReadOnlySpan<byte> rest = content.AsSpan(s_synced.Length);
            int landed = 0;
            while (landed < rest.Length && rest[landed] == s_unsynced[landed])
            {
                landed++;
            }

            Assert.True(rest.Slice(landed).IndexOfAnyExcept((byte)0) < 0, $"seed {seed}: bytes that were never written: [{string.Join(',', content)}]");
            zeroFilled |= landed < rest.Length;
            lengths.Add(landed);
        }

        Assert.Contains(0, lengths);
        Assert.Contains(s_unsynced.Length, lengths);
        Assert.True(lengths.Count > 4, "writes were never torn in the middle");
        Assert.True(zeroFilled, "the size never landed without the data");
    }

    [Fact]
    public void Created_renamed_and_deleted_entries_survive_power_loss_only_once_their_directory_is_synced()
    {
        var outcomes = new HashSet<string>();
        var deletes = new HashSet<bool>();
        for (int seed = 0; seed < 200; seed++)
        {
            SimulatedFileSystem files = WithFile(seed, out ILogFile file);
            file.Write(s_synced, 0);
            file.DataSync();
            files.SyncDirectory("/d");
            files.CreateNew("/d/created").Dispose();
            files.Rename("/d/f", "/d/renamed");
            files.Restart(powerLoss: true);
            string outcome = string.Join(' ', files.ListFiles("/d").Select(Path.GetFileName).Order());
            Assert.True(outcome is "f" or "created f" or "created renamed", $"seed {seed}: {outcome}");
            outcomes.Add(outcome);

            int before = files.ListFiles("/d").Count;
            files.Delete(files.ListFiles("/d")[0]);
            files.Restart(powerLoss: true);
            int after = files.ListFiles("/d").Count;
            Assert.True(after == before || after == before - 1, $"seed {seed}: {before} files before a delete, {after} after");
            deletes.Add(after < before);
        }

        Assert.Equal(3, outcomes.Count);
        Assert.Equal(2, deletes.Count);

        SimulatedFileSystem synced = WithFile(0, out _);
        synced.Rename("/d/f", "/d/g");
        synced.SyncDirectory("/d");
        synced.Restart(powerLoss: true);
        Assert.Equal(["/d/g"], synced.ListFiles("/d"));
    }

    [Fact]
    public void Process_crash_keeps_unsynced_writes_which_a_later_power_loss_can_still_drop()
    {
        bool dropped = false;
        for (int seed = 0; seed < 50; seed++)
        {
            SimulatedFileSystem files = WithFile(seed, out ILogFile file);
            file.Write(s_unsynced, 0);
            files.CrashNow();
            Assert.Throws<SimulatedCrashException>(() => file.DataSync());
            files.Restart(powerLoss: false);
            Assert.Equal(s_unsynced, files.ContentOf("/d/f"));
            Assert.Throws<InvalidOperationException>(() => file.Read(new byte[1], 0));

            files.Restart(powerLoss: true);
            dropped |= files.ContentOf("/d/f")!.Length < s_unsynced.Length;
        }

        Assert.True(dropped, "a power loss after a process crash never dropped the writes the crash left unsynced");
    }

    [Fact]
    public void Crash_point_stops_the_process_before_that_operation()
    {
        SimulatedFileSystem files = WithFile(0, out ILogFile file);
        files.CrashAtOperation = files.Operations + 2;
        file.Write(s_synced, 0);
        Assert.Throws<SimulatedCrashException>(() => file.DataSync());
        Assert.True(files.Crashed);
        Assert.Throws<SimulatedCrashException>(() => file.Write(s_synced, 0));
        files.Restart(powerLoss: false);
        Assert.Equal(s_synced, files.ContentOf("/d/f"));
    }

    private static SimulatedFileSystem WithFile(int seed, out ILogFile file)
    {
        var files = new SimulatedFileSystem(seed);
        files.CreateDirectory("/d");
        files.SyncDirectory("/");
        file = files.CreateNew("/d/f");
        files.SyncDirectory("/d");
        return files;
    }
}

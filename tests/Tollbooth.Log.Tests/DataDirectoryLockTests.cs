// Goal: only one holder of a data directory at a time, with a message telling the operator what to do, and
// the lock is free again once released. Method: acquire twice in this process (FileShare.None on Linux takes
// flock on each open file description, so a second open in the same process is refused like another process).
namespace Tollbooth.Log.Tests;

public sealed class DataDirectoryLockTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void Second_acquire_fails_with_a_message_naming_the_directory()
    {
        using DataDirectoryLock first = DataDirectoryLock.Acquire(_directory.Path);
        var exception = Assert.Throws<InvalidOperationException>(() => DataDirectoryLock.Acquire(_directory.Path));
        Assert.Equal(
            $"Another tollbooth process is using the data directory {_directory.Path}; stop it before starting this one.",
            exception.Message);
    }

    [Fact]
    public void Lock_can_be_acquired_again_after_dispose()
    {
        DataDirectoryLock first = DataDirectoryLock.Acquire(_directory.Path);
        first.Dispose();
        using DataDirectoryLock second = DataDirectoryLock.Acquire(_directory.Path);
        Assert.Equal(_directory.Combine("LOCK"), second.Path);
    }
}

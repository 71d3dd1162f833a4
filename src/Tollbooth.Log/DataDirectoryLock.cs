namespace Tollbooth.Log;

/// <summary>
/// An exclusive lock on <c>{dataDirectory}/LOCK</c>, held for the life of the process, so two tollbooth
/// processes never append to the same log. On Linux, FileShare.None takes flock(LOCK_EX) on the open file,
/// which also refuses a second open from the same process. The lock goes with the process, even on kill -9.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    /// <summary>EWOULDBLOCK from flock(LOCK_NB), which .NET reports as the IOException's HResult on Linux.</summary>
    private const int WouldBlock = 11;

    private readonly FileStream _stream;

    private DataDirectoryLock(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    /// <summary>The lock file's path.</summary>
    public string Path { get; }

    /// <summary>
    /// Takes the lock; throws <see cref="InvalidOperationException"/> with an operator message when another
    /// process (or another holder in this one) has it.
    /// </summary>
    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        string path = System.IO.Path.Combine(dataDirectory, "LOCK");
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException exception) when (exception.HResult == WouldBlock)
        {
            throw new InvalidOperationException(
                $"Another tollbooth process is using the data directory {dataDirectory}; stop it before starting this one.",
                exception);
        }

        return new DataDirectoryLock(path, stream);
    }

    /// <summary>Releases the lock. The file stays: removing it would let a third process lock a different file.</summary>
    public void Dispose()
    {
        _stream.Dispose();
    }
}

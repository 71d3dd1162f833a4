using Microsoft.Win32.SafeHandles;

namespace Tollbooth.Log;

/// <summary>
/// The log's file system on the machine's disks: SafeFileHandle and RandomAccess for data, our own checked
/// fdatasync and directory fsync (<see cref="NativeFile"/>) for durability.
/// </summary>
public sealed class RealLogFileSystem : ILogFileSystem
{
    public static RealLogFileSystem Instance { get; } = new();

    private RealLogFileSystem()
    {
    }

    public ILogFile CreateNew(string path)
    {
        return new RealLogFile(path, File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete));
    }

    public ILogFile OpenReadWrite(string path)
    {
        return new RealLogFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete));
    }

    public ILogFile OpenRead(string path)
    {
        return new RealLogFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
    }

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public IReadOnlyList<string> ListFiles(string directory) => Directory.GetFiles(directory);

    public void Delete(string path) => File.Delete(path);

    public void Rename(string source, string destination) => File.Move(source, destination, overwrite: true);

    public void SyncDirectory(string path) => NativeFile.FsyncDirectory(path);

    public DateTimeOffset LastWriteTime(string path) => new(File.GetLastWriteTimeUtc(path), TimeSpan.Zero);

    private sealed class RealLogFile(string path, SafeFileHandle handle) : ILogFile
    {
        public string Path { get; } = path;

        public long Length => RandomAccess.GetLength(handle);

        public int Read(Span<byte> destination, long offset) => RandomAccess.Read(handle, destination, offset);

        public void Write(ReadOnlySpan<byte> source, long offset) => RandomAccess.Write(handle, source, offset);

        public void SetLength(long length) => RandomAccess.SetLength(handle, length);

        public void DataSync() => NativeFile.FDataSync(handle, Path);

        public void Dispose() => handle.Dispose();
    }
}

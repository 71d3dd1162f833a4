// Goal: the direct fdatasync and directory fsync succeed on real files and report failures as IOException
// naming the path and errno, never silently. Method: call them on a temp file and directory, and on a missing directory.
namespace Tollbooth.Log.Tests;

public sealed class NativeFileTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public void FDataSync_and_FsyncDirectory_succeed_on_a_real_file_and_directory()
    {
        string path = _directory.Combine("file");
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            stream.Write([1, 2, 3]);
            stream.Flush();
            NativeFile.FDataSync(stream.SafeFileHandle, path);
        }

        NativeFile.FsyncDirectory(_directory.Path);
    }

    [Fact]
    public void FsyncDirectory_of_a_missing_directory_throws_naming_the_path_and_errno()
    {
        string missing = _directory.Combine("missing");
        var exception = Assert.Throws<IOException>(() => NativeFile.FsyncDirectory(missing));
        Assert.Contains(missing, exception.Message);
        Assert.Contains("errno 2", exception.Message);
    }

    [Fact]
    public void FsyncDirectory_of_a_file_throws_because_it_is_not_a_directory()
    {
        string path = _directory.Combine("file");
        File.WriteAllBytes(path, [1]);
        var exception = Assert.Throws<IOException>(() => NativeFile.FsyncDirectory(path));
        Assert.Contains("errno 20", exception.Message);
    }
}

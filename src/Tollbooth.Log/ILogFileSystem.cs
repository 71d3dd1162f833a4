namespace Tollbooth.Log;

/// <summary>
/// Every file-system call the log makes goes through this seam, so a test can stand in a file system that
/// loses what was not made durable (writes after a file's last <see cref="ILogFile.DataSync"/>, entries
/// after a directory's last <see cref="SyncDirectory"/>) or refuses a write with ENOSPC. The program uses
/// <see cref="RealLogFileSystem"/>. Paths are absolute. Failures are <see cref="IOException"/> whose HResult is
/// the errno, as .NET reports them on Linux.
/// </summary>
public interface ILogFileSystem
{
    /// <summary>Creates a file that must not exist yet (O_CREAT|O_EXCL), open for reading and writing.</summary>
    ILogFile CreateNew(string path);

    /// <summary>Opens an existing file for reading and writing.</summary>
    ILogFile OpenReadWrite(string path);

    /// <summary>Opens an existing file for reading only.</summary>
    ILogFile OpenRead(string path);

    bool DirectoryExists(string path);

    /// <summary>Creates the directory and any missing parents; nothing is durable until the parents are synced.</summary>
    void CreateDirectory(string path);

    /// <summary>The full paths of the regular files directly in <paramref name="directory"/>, in no given order.</summary>
    IReadOnlyList<string> ListFiles(string directory);

    /// <summary>Removes a file's directory entry; durable once its directory is synced.</summary>
    void Delete(string path);

    /// <summary>Renames a file, replacing any file at <paramref name="destination"/>; durable once the directories are synced.</summary>
    void Rename(string source, string destination);

    /// <summary>fsync of the directory: makes the entries created, renamed or removed in it durable.</summary>
    void SyncDirectory(string path);

    /// <summary>When the file's data was last changed (its mtime): for a closed segment, about when it was closed.</summary>
    DateTimeOffset LastWriteTime(string path);
}

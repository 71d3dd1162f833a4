using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tollbooth.Log;

/// <summary>
/// fdatasync and directory fsync called directly, their results checked. FileStream.Flush(true) and
/// RandomAccess.FlushToDisk were seen returning normally while the kernel's fsync failed with EIO, and
/// a lost fsync error means an acknowledged click can vanish (I1). Linux only.
/// </summary>
public static partial class NativeFile
{
    /// <summary>ENOSPC: no space left on the device.</summary>
    public const int NoSpace = 28;

    /// <summary>EDQUOT: the user's disk quota is spent (122 on Linux).</summary>
    public const int QuotaExceeded = 122;

    private const int ReadOnly = 0;
    private const int CloseOnExec = 0x80000;

    /// <summary>
    /// Flushes the file's data (and the metadata needed to read it back, such as its size) to the device.
    /// Throws <see cref="IOException"/> naming errno and <paramref name="pathForMessages"/> when the kernel reports a failure.
    /// </summary>
    public static void FDataSync(SafeFileHandle handle, string pathForMessages)
    {
        ArgumentNullException.ThrowIfNull(handle);
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int descriptor = (int)handle.DangerousGetHandle();
            if (FDataSyncNative(descriptor) != 0)
            {
                throw Failure("fdatasync", pathForMessages, Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// True when <paramref name="exception"/> is the kernel refusing a write or a file creation for want of space
    /// (ENOSPC or EDQUOT), which .NET reports on Linux as an IOException whose HResult is the errno.
    /// </summary>
    public static bool IsDiskFull(Exception exception)
    {
        return exception is IOException { HResult: NoSpace or QuotaExceeded };
    }

    /// <summary>
    /// Replaces a file whole and durably: the bytes go to <c>path.tmp</c>, which is fdatasynced, renamed over
    /// <paramref name="path"/>, and the directory fsynced. After a crash the file is the old one or the new one.
    /// </summary>
    public static void ReplaceDurably(string path, ReadOnlySpan<byte> content)
    {
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            stream.Write(content);
            stream.Flush();
            FDataSync(stream.SafeFileHandle, temporary);
        }

        File.Move(temporary, path, overwrite: true);
        FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>
    /// Makes a directory's entries durable (files created, renamed or removed in it): open it with
    /// O_RDONLY|O_DIRECTORY, fsync, close. Throws <see cref="IOException"/> naming errno and the directory on failure.
    /// </summary>
    public static void FsyncDirectory(string directoryPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(directoryPath);
        int descriptor = Open(directoryPath, ReadOnly | DirectoryFlag() | CloseOnExec);
        if (descriptor < 0)
        {
            throw Failure("open", directoryPath, Marshal.GetLastPInvokeError());
        }

        try
        {
            if (FsyncNative(descriptor) != 0)
            {
                throw Failure("fsync", directoryPath, Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            // The directory was only read; an error from close cannot lose data here.
            _ = Close(descriptor);
        }
    }

    /// <summary>O_DIRECTORY differs between Linux architectures: 040000 on ARM, 0200000 elsewhere.</summary>
    private static int DirectoryFlag()
    {
        Architecture architecture = RuntimeInformation.ProcessArchitecture;
        return architecture is Architecture.Arm or Architecture.Arm64 ? 0x4000 : 0x10000;
    }

    private static IOException Failure(string call, string path, int errno)
    {
        return new IOException(
            $"{call} failed for {path}: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}). " +
            "The data may not be on disk; check the device and the kernel log (dmesg).",
            errno);
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSyncNative(int descriptor);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(int descriptor);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}

using System.Security.Cryptography;
using System.Text.Json;
using Tollbooth.Log;
using Tollbooth.Store;

namespace Tollbooth;

/// <summary>
/// The embedded default's files under <c>--data</c>: the click log (<c>log/</c>), the DuckDB store
/// (<c>tollbooth.duckdb</c>), the key for pseudonymising IPs and the layout file that pins the
/// partition count. Held under an exclusive lock so a second process cannot share it.
/// </summary>
public sealed class DataDirectory : IDisposable
{
    private const string LayoutFile = "tollbooth.json";
    private const string IpKeyFile = "ip-secret.key";

    private readonly DataDirectoryLock _lock;

    private DataDirectory(string path, DataDirectoryLock directoryLock, SegmentLog log, DuckDbStore store, byte[] ipKey)
    {
        Path = path;
        _lock = directoryLock;
        Log = log;
        Store = store;
        IpKey = ipKey;
    }

    public string Path { get; }

    public SegmentLog Log { get; }

    public DuckDbStore Store { get; }

    public byte[] IpKey { get; }

    /// <summary>Where the processors keep their dedup snapshots.</summary>
    public string DedupSnapshotDirectory => System.IO.Path.Combine(Path, "dedup");

    /// <summary>The raw archive: every click with its verdict, Parquet files by event hour.</summary>
    public string ArchiveDirectory => System.IO.Path.Combine(Path, "archive");

    public Tollbooth.Archive.ParquetArchive OpenArchive(ArchiveSettings settings) =>
        new(ArchiveDirectory, Log.PartitionCount, settings.FlushRowsMax, settings.FlushIntervalMs);

    /// <summary>
    /// Opens and locks a data directory that already holds a store, for the commands that read one (dump,
    /// reconcile, replay). A directory without one is refused before anything is created in it: an empty new
    /// store would only answer "no rows" about the store the operator meant.
    /// </summary>
    public static DataDirectory OpenExisting(TollboothSettings settings, string verb, Action<string> warn)
    {
        string path = System.IO.Path.GetFullPath(settings.Data);
        if (!File.Exists(System.IO.Path.Combine(path, LayoutFile)))
        {
            throw new SettingsException(
                $"{path} holds no Tollbooth store (no {LayoutFile}), so `tollbooth {verb}` has nothing to read: give it the directory `tollbooth serve` used, with --data DIR.");
        }

        try
        {
            return Open(settings, warn);
        }
        catch (InvalidOperationException exception) when (exception.InnerException is IOException)
        {
            // The lock: DuckDB lets one process at a time open the store, and the log has one writer.
            throw new InvalidOperationException(
                $"Another tollbooth process (a running `tollbooth serve`?) is using {path}; `tollbooth {verb}` needs the store to itself: stop the service, then run it again.",
                exception);
        }
    }

    /// <summary>Opens (creating if needed) and locks the data directory; <paramref name="dataSynced"/> observes each log fsync.</summary>
    public static DataDirectory Open(TollboothSettings settings, Action<string> warn, Action<TimeSpan>? dataSynced = null)
    {
        string path = System.IO.Path.GetFullPath(settings.Data);
        Directory.CreateDirectory(path);
        DataDirectoryLock directoryLock = DataDirectoryLock.Acquire(path);
        try
        {
            CheckLayout(path, settings.Log.Partitions);
            byte[] ipKey = ReadOrCreateIpKey(path);
            SegmentLog log = SegmentLog.Open(new SegmentLogOptions
            {
                Directory = System.IO.Path.Combine(path, "log"),
                PartitionCount = settings.Log.Partitions,
                SegmentBytesMax = settings.Log.SegmentBytesMax,
                PendingBytesMax = settings.Log.PendingBytesMax,
                Retention = settings.Log.Retention(),
                SegmentAgeMax = settings.Log.SegmentAgeMax(),
                Warn = warn,
                DataSynced = dataSynced,
            });
            DuckDbStore store = DuckDbStore.Open(System.IO.Path.Combine(path, "tollbooth.duckdb"));
            return new DataDirectory(path, directoryLock, log, store, ipKey);
        }
        catch
        {
            directoryLock.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Log.Dispose();
        Store.Dispose();
        _lock.Dispose();
    }

    private static void CheckLayout(string path, int partitions)
    {
        string file = System.IO.Path.Combine(path, LayoutFile);
        if (File.Exists(file))
        {
            using JsonDocument layout = JsonDocument.Parse(File.ReadAllBytes(file));
            int stored = layout.RootElement.GetProperty("partitions").GetInt32();
            if (stored != partitions)
            {
                throw new SettingsException(
                    $"The data directory {path} was made with {stored} partitions, but Log:Partitions is {partitions}; start with --Log:Partitions {stored}.");
            }

            return;
        }

        WriteDurably(path, LayoutFile, JsonSerializer.SerializeToUtf8Bytes(new { partitions, version = 1 }));
    }

    private static byte[] ReadOrCreateIpKey(string path)
    {
        string file = System.IO.Path.Combine(path, IpKeyFile);
        if (File.Exists(file))
        {
            byte[] key = File.ReadAllBytes(file);
            if (key.Length != 32)
            {
                throw new SettingsException($"{file} must hold 32 bytes but holds {key.Length}; restore it from a copy.");
            }

            return key;
        }

        byte[] created = RandomNumberGenerator.GetBytes(32);
        WriteDurably(path, IpKeyFile, created);
        return created;
    }

    /// <summary>Writes a small file whole: temp file, fsync, rename, fsync the directory.</summary>
    private static void WriteDurably(string directory, string name, byte[] content) =>
        NativeFile.ReplaceDurably(System.IO.Path.Combine(directory, name), content);
}

namespace Tollbooth.Log.Tests;

/// <summary>
/// A file system in memory that loses what a disk loses. Per file it keeps the durable content (as of the last
/// DataSync) and the changes since; per directory the durable entries (as of the last SyncDirectory) and the entry
/// changes since. <see cref="Restart"/> ends the process using it: after a power loss each file keeps its durable
/// content plus a seeded-random prefix of its unsynced changes, the last one kept possibly torn at any byte (the rest
/// dropped, or the file's size kept with zeros where the data never landed), and each directory its durable entries
/// plus a prefix of its unsynced entry changes; after a process crash (kill -9) everything is kept but nothing more is
/// durable. Faults: a crash at the Nth operation, ENOSPC at the Nth write or while <see cref="DiskFull"/>, and a failing
/// DataSync or SyncDirectory at the Nth call. Failures are IOExceptions whose HResult is the errno, like .NET's on Linux.
/// Deterministic for a seed when used from one thread; a lock makes it safe from several.
/// </summary>
public sealed class SimulatedFileSystem : ILogFileSystem
{
    public const int InputOutputError = 5;

    private readonly Lock _lock = new();
    private readonly Random _random;
    private readonly SimulatedDirectory _root = new();
    private int _epoch;
    private bool _crashed;

    public SimulatedFileSystem(int seed)
    {
        _random = new Random(seed);
    }

    /// <summary>Operations that change something or make it durable, counted from 1 over every process.</summary>
    public long Operations { get; private set; }

    /// <summary>The process dies just before the operation with this number (its effects are not applied).</summary>
    public long CrashAtOperation { get; set; } = long.MaxValue;

    /// <summary>While true, a write that grows a file fails with ENOSPC after writing part of itself, and so does creating a file.</summary>
    public bool DiskFull { get; set; }

    /// <summary>Write calls, counted from 1 over every process.</summary>
    public long Writes { get; private set; }

    /// <summary>The write with this number fails with ENOSPC after writing a random part of itself.</summary>
    public long WriteFailsWithNoSpaceAt { get; set; } = long.MaxValue;

    /// <summary>The errno of a write refused for want of space: ENOSPC, or EDQUOT for a spent quota.</summary>
    public int NoSpaceErrno { get; set; } = NativeFile.NoSpace;

    /// <summary>DataSync calls, counted from 1.</summary>
    public long DataSyncs { get; private set; }

    /// <summary>The DataSync with this number fails with <see cref="DataSyncErrno"/>; what it should have made durable is not.</summary>
    public long DataSyncFailsAt { get; set; } = long.MaxValue;

    public int DataSyncErrno { get; set; } = InputOutputError;

    /// <summary>SyncDirectory calls, counted from 1.</summary>
    public long DirectorySyncs { get; private set; }

    /// <summary>The SyncDirectory with this number fails with EIO.</summary>
    public long DirectorySyncFailsAt { get; set; } = long.MaxValue;

    /// <summary>The clock a file's last-write time is taken from (<see cref="LastWriteTime"/>).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Called (under the file system's lock) when a write is about to fail for want of space, after its partial bytes landed.</summary>
    public Action<string>? WriteFailing { get; set; }

    /// <summary>True once the crash point was reached: every call of the dead process throws until <see cref="Restart"/>.</summary>
    public bool Crashed
    {
        get
        {
            lock (_lock)
            {
                return _crashed;
            }
        }
    }

    /// <summary>
    /// Ends the process that used the file system: its handles die. With <paramref name="powerLoss"/> the unsynced
    /// changes are kept only in part, as described on the class; without it (kill -9) they all stay, still unsynced.
    /// </summary>
    public void Restart(bool powerLoss)
    {
        lock (_lock)
        {
            _epoch++;
            _crashed = false;
            CrashAtOperation = long.MaxValue;
            if (powerLoss)
            {
                LosePower(_root);
            }
        }
    }

    /// <summary>The running process dies now: every call it makes from here on throws <see cref="SimulatedCrashException"/>.</summary>
    public void CrashNow()
    {
        lock (_lock)
        {
            _crashed = true;
        }
    }

    /// <summary>The content a file would have now for the running process, or null when there is no such file.</summary>
    public byte[]? ContentOf(string path)
    {
        lock (_lock)
        {
            return Find(path) is SimulatedFile file ? file.Data.AsSpan(0, file.Length).ToArray() : null;
        }
    }

    public ILogFile CreateNew(string path)
    {
        lock (_lock)
        {
            Step();
            (SimulatedDirectory parent, string name) = ParentOf(path);
            if (parent.Entries.ContainsKey(name))
            {
                throw new IOException($"The file '{path}' already exists.", 17);
            }

            if (DiskFull)
            {
                throw NoSpace(path);
            }

            var file = new SimulatedFile { LastWriteTime = Time.GetUtcNow() };
            parent.Change([(name, file)]);
            return new Handle(this, file, path, writable: true);
        }
    }

    public ILogFile OpenReadWrite(string path) => Open(path, writable: true);

    public ILogFile OpenRead(string path) => Open(path, writable: false);

    public bool DirectoryExists(string path)
    {
        lock (_lock)
        {
            ThrowIfCrashed();
            return Find(path) is SimulatedDirectory;
        }
    }

    public void CreateDirectory(string path)
    {
        lock (_lock)
        {
            Step();
            SimulatedDirectory directory = _root;
            foreach (string name in Names(path))
            {
                if (!directory.Entries.TryGetValue(name, out Node? next))
                {
                    next = new SimulatedDirectory();
                    directory.Change([(name, next)]);
                }

                directory = next as SimulatedDirectory ?? throw new IOException($"'{name}' in '{path}' is a file, not a directory.", 17);
            }
        }
    }

    public IReadOnlyList<string> ListFiles(string directory)
    {
        lock (_lock)
        {
            ThrowIfCrashed();
            if (Find(directory) is not SimulatedDirectory found)
            {
                throw new DirectoryNotFoundException($"Could not find a part of the path '{directory}'.");
            }

            var files = new List<string>();
            foreach ((string name, Node node) in found.Entries)
            {
                if (node is SimulatedFile)
                {
                    files.Add(Path.Combine(directory, name));
                }
            }

            return files;
        }
    }

    public void Delete(string path)
    {
        lock (_lock)
        {
            Step();
            (SimulatedDirectory parent, string name) = ParentOf(path);
            if (parent.Entries.ContainsKey(name))
            {
                parent.Change([(name, null)]);
            }
        }
    }

    public void Rename(string source, string destination)
    {
        lock (_lock)
        {
            Step();
            (SimulatedDirectory from, string fromName) = ParentOf(source);
            (SimulatedDirectory to, string toName) = ParentOf(destination);
            if (!from.Entries.TryGetValue(fromName, out Node? node) || node is not SimulatedFile)
            {
                throw new FileNotFoundException($"Could not find file '{source}'.");
            }

            if (ReferenceEquals(from, to))
            {
                // Within one directory a rename is one change: after a crash the file has the old name or the new one.
                from.Change([(fromName, null), (toName, node)]);
            }
            else
            {
                to.Change([(toName, node)]);
                from.Change([(fromName, null)]);
            }
        }
    }

    public void SyncDirectory(string path)
    {
        lock (_lock)
        {
            Step();
            if (Find(path) is not SimulatedDirectory directory)
            {
                throw new IOException($"open failed for {path}: errno 2 (No such file or directory).", 2);
            }

            if (++DirectorySyncs == DirectorySyncFailsAt)
            {
                throw new IOException($"fsync failed for {path}: errno 5 (Input/output error).", InputOutputError);
            }

            directory.Sync();
        }
    }

    public DateTimeOffset LastWriteTime(string path)
    {
        lock (_lock)
        {
            ThrowIfCrashed();
            if (Find(path) is not SimulatedFile file)
            {
                throw new FileNotFoundException($"Could not find file '{path}'.");
            }

            return file.LastWriteTime;
        }
    }

    private ILogFile Open(string path, bool writable)
    {
        lock (_lock)
        {
            ThrowIfCrashed();
            if (Find(path) is not SimulatedFile file)
            {
                throw new FileNotFoundException($"Could not find file '{path}'.");
            }

            return new Handle(this, file, path, writable);
        }
    }

    /// <summary>Counts an operation of the running process, dying at the crash point.</summary>
    private void Step()
    {
        ThrowIfCrashed();
        if (++Operations >= CrashAtOperation)
        {
            _crashed = true;
            throw new SimulatedCrashException(Operations);
        }
    }

    private void ThrowIfCrashed()
    {
        if (_crashed)
        {
            throw new SimulatedCrashException(Operations);
        }
    }

    private IOException NoSpace(string path) => new($"No space left on device (errno {NoSpaceErrno}) : '{path}'", NoSpaceErrno);

    private void Write(Handle handle, ReadOnlySpan<byte> source, long offset)
    {
        lock (_lock)
        {
            StepFor(handle);
            SimulatedFile file = handle.File;
            long number = ++Writes;
            bool grows = offset + source.Length > file.Length;
            if (number == WriteFailsWithNoSpaceAt || (DiskFull && grows))
            {
                // A short write landed first; the call that would have written the rest got ENOSPC.
                int landed = source.Length == 0 ? 0 : _random.Next(source.Length);
                file.Write(source.Slice(0, landed), offset);
                file.LastWriteTime = Time.GetUtcNow();
                WriteFailing?.Invoke(handle.Path);
                throw NoSpace(handle.Path);
            }

            file.Write(source, offset);
            file.LastWriteTime = Time.GetUtcNow();
        }
    }

    private void SetLength(Handle handle, long length)
    {
        lock (_lock)
        {
            StepFor(handle);
            handle.File.SetLength(length);
            handle.File.LastWriteTime = Time.GetUtcNow();
        }
    }

    private void DataSync(Handle handle)
    {
        lock (_lock)
        {
            StepFor(handle);
            if (++DataSyncs == DataSyncFailsAt)
            {
                // As on Linux after a failed writeback: the changes may be gone from the cache as well, and are not durable.
                if (_random.Next(2) == 0)
                {
                    handle.File.ForgetUnsynced();
                }

                throw new IOException($"fdatasync failed for {handle.Path}: errno {DataSyncErrno}.", DataSyncErrno);
            }

            handle.File.Sync();
        }
    }

    private int Read(Handle handle, Span<byte> destination, long offset)
    {
        lock (_lock)
        {
            ThrowIfDead(handle);
            SimulatedFile file = handle.File;
            if (offset >= file.Length)
            {
                return 0;
            }

            int count = (int)Math.Min(destination.Length, file.Length - offset);
            file.Data.AsSpan((int)offset, count).CopyTo(destination);
            return count;
        }
    }

    private long LengthOf(Handle handle)
    {
        lock (_lock)
        {
            ThrowIfDead(handle);
            return handle.File.Length;
        }
    }

    private void StepFor(Handle handle)
    {
        ThrowIfDead(handle);
        if (!handle.Writable)
        {
            throw new UnauthorizedAccessException($"'{handle.Path}' was opened for reading only.");
        }

        Step();
    }

    private void ThrowIfDead(Handle handle)
    {
        ThrowIfCrashed();
        if (handle.Epoch != _epoch)
        {
            throw new InvalidOperationException($"A handle of '{handle.Path}' from a process that crashed was used after the restart.");
        }

        ObjectDisposedException.ThrowIf(handle.Disposed, handle);
    }

    /// <summary>Walks the directories as they will be after the power loss, settling each and the files it keeps.</summary>
    private void LosePower(SimulatedDirectory directory)
    {
        directory.LosePower(_random);
        foreach ((string _, Node node) in directory.Entries)
        {
            if (node is SimulatedDirectory child)
            {
                LosePower(child);
            }
            else
            {
                ((SimulatedFile)node).LosePower(_random);
            }
        }
    }

    private Node? Find(string path)
    {
        Node node = _root;
        foreach (string name in Names(path))
        {
            if (node is not SimulatedDirectory directory || !directory.Entries.TryGetValue(name, out Node? next))
            {
                return null;
            }

            node = next;
        }

        return node;
    }

    private (SimulatedDirectory Parent, string Name) ParentOf(string path)
    {
        string[] names = Names(path);
        if (names.Length == 0 || Find("/" + string.Join('/', names[..^1])) is not SimulatedDirectory parent)
        {
            throw new DirectoryNotFoundException($"Could not find a part of the path '{path}'.");
        }

        return (parent, names[^1]);
    }

    private static string[] Names(string path)
    {
        if (!Path.IsPathRooted(path))
        {
            throw new ArgumentException($"The simulated file system takes absolute paths, not '{path}'.");
        }

        return path.Split('/', StringSplitOptions.RemoveEmptyEntries);
    }

    private abstract class Node;

    private sealed class SimulatedDirectory : Node
    {
        private readonly List<(string Name, Node? Target)[]> _unsynced = [];
        private Dictionary<string, Node> _durable = new(StringComparer.Ordinal);

        /// <summary>The entries the running process sees.</summary>
        public Dictionary<string, Node> Entries { get; private set; } = new(StringComparer.Ordinal);

        /// <summary>One change of entries, applied whole or not at all by a power loss (null target: removed).</summary>
        public void Change((string Name, Node? Target)[] change)
        {
            Apply(Entries, change);
            _unsynced.Add(change);
        }

        public void Sync()
        {
            _durable = new Dictionary<string, Node>(Entries, StringComparer.Ordinal);
            _unsynced.Clear();
        }

        public void LosePower(Random random)
        {
            int kept = random.Next(_unsynced.Count + 1);
            for (int i = 0; i < kept; i++)
            {
                Apply(_durable, _unsynced[i]);
            }

            _unsynced.Clear();
            Entries = new Dictionary<string, Node>(_durable, StringComparer.Ordinal);
        }

        private static void Apply(Dictionary<string, Node> entries, (string Name, Node? Target)[] change)
        {
            foreach ((string name, Node? target) in change)
            {
                if (target is null)
                {
                    entries.Remove(name);
                }
                else
                {
                    entries[name] = target;
                }
            }
        }
    }

    private sealed class SimulatedFile : Node
    {
        // A change since the last sync: a write (Bytes) or a new length (Bytes null).
        private readonly List<(long Offset, byte[]? Bytes)> _unsynced = [];
        private byte[] _durable = [];

        public byte[] Data { get; private set; } = new byte[256];

        public int Length { get; private set; }

        /// <summary>The mtime: when the running process last changed the file (kept as is by a power loss).</summary>
        public DateTimeOffset LastWriteTime { get; set; }

        public void Write(ReadOnlySpan<byte> source, long offset)
        {
            WriteInto(source, offset);
            _unsynced.Add((offset, source.ToArray()));
        }

        public void SetLength(long length)
        {
            Resize((int)length);
            _unsynced.Add((length, null));
        }

        public void Sync()
        {
            _durable = Data.AsSpan(0, Length).ToArray();
            _unsynced.Clear();
        }

        public void ForgetUnsynced()
        {
            _unsynced.Clear();
            Restore();
        }

        /// <summary>Keeps the durable content and a random prefix of the changes since, the next one possibly torn.</summary>
        public void LosePower(Random random)
        {
            int kept = random.Next(_unsynced.Count + 1);
            List<(long Offset, byte[]? Bytes)> changes = [.. _unsynced];
            Restore();
            for (int i = 0; i < kept; i++)
            {
                (long offset, byte[]? bytes) = changes[i];
                if (bytes is null)
                {
                    Resize((int)offset);
                }
                else
                {
                    WriteInto(bytes, offset);
                }
            }

            if (kept < changes.Count && changes[kept].Bytes is { Length: > 0 } torn && random.Next(2) == 0)
            {
                // Torn at any byte: a prefix landed; sometimes the size landed too, with zeros where the data did not.
                long offset = changes[kept].Offset;
                if (random.Next(2) == 0)
                {
                    Resize((int)Math.Max(Length, offset + torn.Length));
                }

                WriteInto(torn.AsSpan(0, random.Next(torn.Length)), offset);
            }

            Sync();
        }

        private void Restore()
        {
            Length = 0;
            WriteInto(_durable, 0);
        }

        private void WriteInto(ReadOnlySpan<byte> source, long offset)
        {
            int end = (int)offset + source.Length;
            if (end > Length)
            {
                Resize(end);
            }

            source.CopyTo(Data.AsSpan((int)offset));
        }

        private void Resize(int length)
        {
            if (length > Data.Length)
            {
                byte[] grown = new byte[Math.Max(length, 2 * Data.Length)];
                Data.AsSpan(0, Length).CopyTo(grown);
                Data = grown;
            }

            if (length > Length)
            {
                Data.AsSpan(Length, length - Length).Clear();
            }

            Length = length;
        }
    }

    private sealed class Handle(SimulatedFileSystem owner, SimulatedFile file, string path, bool writable) : ILogFile
    {
        public SimulatedFile File { get; } = file;

        public int Epoch { get; } = owner._epoch;

        public bool Writable { get; } = writable;

        public bool Disposed { get; private set; }

        public string Path { get; } = path;

        public long Length => owner.LengthOf(this);

        public int Read(Span<byte> destination, long offset) => owner.Read(this, destination, offset);

        public void Write(ReadOnlySpan<byte> source, long offset) => owner.Write(this, source, offset);

        public void SetLength(long length) => owner.SetLength(this, length);

        public void DataSync() => owner.DataSync(this);

        public void Dispose() => Disposed = true;
    }
}

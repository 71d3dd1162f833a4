namespace Tollbooth.Log;

/// <summary>An open file of <see cref="ILogFileSystem"/>: positional reads and writes, its length, fdatasync.</summary>
public interface ILogFile : IDisposable
{
    /// <summary>The path the file was opened with, for messages.</summary>
    string Path { get; }

    long Length { get; }

    /// <summary>Reads into <paramref name="destination"/> from <paramref name="offset"/>; returns the bytes read, 0 at the end.</summary>
    int Read(Span<byte> destination, long offset);

    /// <summary>Writes all of <paramref name="source"/> at <paramref name="offset"/>; on failure part of it may have been written.</summary>
    void Write(ReadOnlySpan<byte> source, long offset);

    void SetLength(long length);

    /// <summary>fdatasync: makes the file's data and size durable. A failure is never to be retried as if it succeeded.</summary>
    void DataSync();
}

namespace Tollbooth.Log;

/// <summary>
/// A buffered view of a region of a file, read with <see cref="ILogFile.Read"/>.
/// Its capacity is at least twice the largest frame, so scanning forward refills it at most once per
/// largest-frame of progress: sequential scans stay linear in the file's size.
/// </summary>
internal sealed class FileWindow
{
    private readonly byte[] _buffer;
    private long _start;
    private int _length;

    public FileWindow(int recordBytesMax)
    {
        long capacity = Math.Max(2L * (FrameHeader.Size + (long)recordBytesMax), 64 << 10);
        _buffer = new byte[checked((int)capacity)];
    }

    /// <summary>
    /// The file's bytes from <paramref name="offset"/>, <paramref name="count"/> of them or fewer where the file ends.
    /// Bytes once read are kept, so the owner clears the window when the file may have changed under it: a reader
    /// when its partition cut a failed write back (<see cref="LogPartition.Rewinds"/>), recovery per file.
    /// </summary>
    public ReadOnlySpan<byte> Get(ILogFile file, long offset, int count)
    {
        if (count > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"More than the window's {_buffer.Length} bytes.");
        }

        if (offset < _start || offset + count > _start + _length)
        {
            Fill(file, offset);
        }

        int available = (int)Math.Min(count, _start + _length - offset);
        return _buffer.AsSpan((int)(offset - _start), available);
    }

    /// <summary>Forgets the buffered bytes, for example when moving to another file.</summary>
    public void Clear()
    {
        _start = 0;
        _length = 0;
    }

    private void Fill(ILogFile file, long offset)
    {
        _start = offset;
        _length = 0;
        while (_length < _buffer.Length)
        {
            int read = file.Read(_buffer.AsSpan(_length), offset + _length);
            if (read == 0)
            {
                return;
            }

            _length += read;
        }
    }
}

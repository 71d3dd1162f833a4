namespace Tollbooth.Log;

/// <summary>Verifies the frames of a segment file: every frame in order, and the search for a valid frame past damage.</summary>
internal sealed class SegmentScanner
{
    private readonly FileWindow _window;
    private readonly int _recordBytesMax;

    public SegmentScanner(int recordBytesMax)
    {
        _recordBytesMax = recordBytesMax;
        _window = new FileWindow(recordBytesMax);
    }

    /// <summary>
    /// Walks the frames from offset 0 while they verify. Returns the number of valid records; <paramref name="end"/>
    /// is the offset after the last valid one and <paramref name="problem"/> what stopped the walk before the file's end
    /// (<see cref="FrameCheck.Valid"/> when every byte belongs to a valid frame).
    /// </summary>
    public long Scan(ILogFile file, long fileLength, out long end, out FrameCheck problem)
    {
        _window.Clear();
        long records = 0;
        long offset = 0;
        problem = FrameCheck.Valid;
        while (offset < fileLength)
        {
            problem = Check(file, offset, fileLength, out int length);
            if (problem != FrameCheck.Valid)
            {
                break;
            }

            offset += FrameHeader.Size + length;
            records++;
        }

        end = offset;
        return records;
    }

    /// <summary>
    /// The first offset after <paramref name="damaged"/> where a valid frame starts (a plausible length and a
    /// matching CRC), or -1. Damage with a valid frame after it is interior damage, not a torn tail.
    /// </summary>
    public long FindValidFrameAfter(ILogFile file, long damaged, long fileLength)
    {
        for (long offset = damaged + 1; offset + FrameHeader.Size < fileLength; offset++)
        {
            if (Check(file, offset, fileLength, out _) == FrameCheck.Valid)
            {
                return offset;
            }
        }

        return -1;
    }

    /// <summary>Checks the frame at <paramref name="offset"/>: a complete header, a plausible length, a matching CRC.</summary>
    public FrameCheck Check(ILogFile file, long offset, long fileLength, out int length)
    {
        length = 0;
        if (fileLength - offset < FrameHeader.Size)
        {
            return FrameCheck.HeaderIncomplete;
        }

        ReadOnlySpan<byte> headerBytes = _window.Get(file, offset, FrameHeader.Size);
        if (headerBytes.Length < FrameHeader.Size)
        {
            return FrameCheck.HeaderIncomplete;
        }

        FrameHeader header = FrameHeader.Read(headerBytes);
        if (header.Length == 0)
        {
            return FrameCheck.LengthZero;
        }

        if (header.Length > (uint)_recordBytesMax)
        {
            return FrameCheck.LengthAboveMax;
        }

        length = (int)header.Length;
        if (offset + FrameHeader.Size + length > fileLength)
        {
            return FrameCheck.LengthPastFileEnd;
        }

        ReadOnlySpan<byte> frame = _window.Get(file, offset, FrameHeader.Size + length);
        if (frame.Length < FrameHeader.Size + length)
        {
            return FrameCheck.LengthPastFileEnd;
        }

        return header.Verifies(frame.Slice(FrameHeader.Size)) ? FrameCheck.Valid : FrameCheck.ChecksumMismatch;
    }

    /// <summary>
    /// True when the frame at <paramref name="offset"/> is complete and its CRC matches although its length is above
    /// RecordBytesMax: a record written before RecordBytesMax was lowered, which must never be cut as a torn tail.
    /// </summary>
    public static bool VerifiesAboveMax(ILogFile file, long offset, long fileLength)
    {
        Span<byte> headerBytes = stackalloc byte[FrameHeader.Size];
        if (file.Read(headerBytes, offset) < FrameHeader.Size)
        {
            return false;
        }

        FrameHeader header = FrameHeader.Read(headerBytes);
        if (header.Length > SegmentLogOptions.BytesMaxLimit || offset + FrameHeader.Size + header.Length > fileLength)
        {
            return false;
        }

        var payload = new byte[header.Length];
        int read = 0;
        while (read < payload.Length)
        {
            int chunk = file.Read(payload.AsSpan(read), offset + FrameHeader.Size + read);
            if (chunk == 0)
            {
                return false;
            }

            read += chunk;
        }

        return header.Verifies(payload);
    }

    /// <summary>An operator's description of a failed check.</summary>
    public static string Describe(FrameCheck check, int recordBytesMax)
    {
        return check switch
        {
            FrameCheck.HeaderIncomplete => $"the file ends inside a {FrameHeader.Size}-byte frame header",
            FrameCheck.LengthZero => "the frame declares a payload of 0 bytes",
            FrameCheck.LengthAboveMax => $"the frame declares a payload above RecordBytesMax ({recordBytesMax} bytes; if it was lowered, raise it back)",
            FrameCheck.LengthPastFileEnd => "the frame's declared payload runs past the end of the file",
            FrameCheck.ChecksumMismatch => "the frame's CRC32C does not match its length and payload",
            _ => "the frame is valid",
        };
    }
}

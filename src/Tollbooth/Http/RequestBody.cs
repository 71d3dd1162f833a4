using System.Buffers;

namespace Tollbooth.Http;

/// <summary>A request body read whole into a pooled buffer, or the note that it is over the size limit.</summary>
public sealed class RequestBody : IDisposable
{
    private byte[] _buffer;

    private RequestBody(byte[] buffer, int length, bool tooLarge)
    {
        _buffer = buffer;
        Length = length;
        TooLarge = tooLarge;
    }

    public int Length { get; }

    public bool TooLarge { get; }

    public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, Length);

    /// <summary>Reads at most <paramref name="bytesMax"/> bytes; a longer body comes back with <see cref="TooLarge"/> set.</summary>
    public static async Task<RequestBody> ReadAsync(HttpRequest request, long bytesMax)
    {
        if (request.ContentLength > bytesMax)
        {
            return new RequestBody([], 0, tooLarge: true);
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 16_384, bytesMax) + 1);
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > bytesMax)
                {
                    return new RequestBody(buffer, 0, tooLarge: true);
                }

                // Grow by doubling, never past one byte over the limit: that byte is enough to tell "too large".
                byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, bytesMax + 1));
                buffer.AsSpan(0, length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = larger;
            }

            int read = await request.Body.ReadAsync(buffer.AsMemory(length));
            if (read == 0)
            {
                return new RequestBody(buffer, length, tooLarge: length > bytesMax);
            }

            length += read;
        }
    }

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}

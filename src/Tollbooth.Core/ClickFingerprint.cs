using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// The 128-bit fingerprint of a click id that the dedup index remembers instead of the id itself:
/// XxHash128 (seed 0) of the id's UTF-8 bytes. With 128 bits, two distinct ids share a fingerprint with
/// probability about n² / 2¹²⁹, below 10⁻²⁰ for ten billion ids, so a fingerprint match is treated as
/// the same id. The value is part of the dedup snapshot format: never change the hash or its seed.
/// </summary>
public static class ClickFingerprint
{
    /// <summary>Ids that encode to at most this many UTF-8 bytes are hashed from the stack.</summary>
    public const int StackBytesMax = 512;

    // UTF-8 needs at most 3 bytes per UTF-16 char (a surrogate pair is 2 chars and 4 bytes).
    private const int StackCharsMax = StackBytesMax / 3;

    /// <summary>The fingerprint of <paramref name="clickId"/>; allocates nothing for ids up to <see cref="StackBytesMax"/> bytes.</summary>
    public static UInt128 Of(string clickId)
    {
        ArgumentNullException.ThrowIfNull(clickId);
        Span<byte> buffer = stackalloc byte[StackBytesMax];
        if (clickId.Length <= StackCharsMax)
        {
            int written = Encoding.UTF8.GetBytes(clickId, buffer);
            return XxHash128.HashToUInt128(buffer[..written]);
        }

        int length = Encoding.UTF8.GetByteCount(clickId);
        if (length <= StackBytesMax)
        {
            Encoding.UTF8.GetBytes(clickId, buffer);
            return XxHash128.HashToUInt128(buffer[..length]);
        }

        return OfLong(clickId, length);
    }

    /// <summary>The fingerprint of an id given as its UTF-8 bytes (as a log record holds it): the same value as <see cref="Of(string)"/>.</summary>
    public static UInt128 OfUtf8(ReadOnlySpan<byte> clickId) => XxHash128.HashToUInt128(clickId);

    private static UInt128 OfLong(string clickId, int length)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int written = Encoding.UTF8.GetBytes(clickId, rented);
            return XxHash128.HashToUInt128(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}

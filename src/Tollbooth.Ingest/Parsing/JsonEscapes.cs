using System.Buffers.Text;
using System.Text;

namespace Tollbooth.Ingest.Parsing;

/// <summary>What <see cref="JsonEscapes.Unescape"/> made of a raw JSON string.</summary>
internal enum UnescapeResult
{
    /// <summary>All of the text is in the destination.</summary>
    Done,

    /// <summary>
    /// A \u escape spells a lone surrogate: System.Text.Json throws InvalidOperationException for that text, whether
    /// it is a value (GetString) or a property name it unescapes to compare (TryGetProperty).
    /// </summary>
    LoneSurrogate,

    /// <summary>The text is longer than the destination (and has no lone surrogate).</summary>
    TooLong,
}

/// <summary>
/// Unescapes the raw bytes of a JSON string that Utf8JsonReader has already checked, exactly as System.Text.Json's
/// reader helper does, but without throwing: a click with a bad escape costs no exception, and a value can be given a
/// destination only as long as its longest valid text.
/// </summary>
internal static class JsonEscapes
{
    public static UnescapeResult Unescape(ReadOnlySpan<byte> raw, Span<byte> destination, out int written)
    {
        written = 0;
        bool tooLong = false;
        Span<byte> utf8 = stackalloc byte[4];
        while (!raw.IsEmpty)
        {
            int backslash = raw.IndexOf((byte)'\\');
            int plain = backslash < 0 ? raw.Length : backslash;
            tooLong |= !Put(raw[..plain], destination, ref written);
            if (backslash < 0)
            {
                break;
            }

            raw = raw[backslash..];
            if (raw[1] != (byte)'u')
            {
                byte escaped = raw[1] switch
                {
                    (byte)'b' => (byte)'\b',
                    (byte)'f' => (byte)'\f',
                    (byte)'n' => (byte)'\n',
                    (byte)'r' => (byte)'\r',
                    (byte)'t' => (byte)'\t',
                    byte other => other,
                };
                tooLong |= !Put([escaped], destination, ref written);
                raw = raw[2..];
                continue;
            }

            int scalar = Hex(raw.Slice(2, 4));
            raw = raw[6..];
            if (scalar is >= 0xD800 and <= 0xDFFF)
            {
                // A high surrogate must be followed at once by a \u low surrogate, as System.Text.Json requires.
                if (scalar >= 0xDC00 || raw.Length < 6 || raw[0] != (byte)'\\' || raw[1] != (byte)'u')
                {
                    return UnescapeResult.LoneSurrogate;
                }

                int low = Hex(raw.Slice(2, 4));
                if (low is < 0xDC00 or > 0xDFFF)
                {
                    return UnescapeResult.LoneSurrogate;
                }

                raw = raw[6..];
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00);
            }

            int length = new Rune(scalar).EncodeToUtf8(utf8);
            tooLong |= !Put(utf8[..length], destination, ref written);
        }

        return tooLong ? UnescapeResult.TooLong : UnescapeResult.Done;
    }

    // Copies what fits; once something did not fit nothing more is written, but the rest is still checked for surrogates.
    private static bool Put(ReadOnlySpan<byte> bytes, Span<byte> destination, ref int written)
    {
        if (written < 0 || bytes.Length > destination.Length - written)
        {
            written = -1;
            return false;
        }

        bytes.CopyTo(destination[written..]);
        written += bytes.Length;
        return true;
    }

    private static int Hex(ReadOnlySpan<byte> fourDigits)
    {
        bool parsed = Utf8Parser.TryParse(fourDigits, out ushort value, out int consumed, 'X');
        System.Diagnostics.Debug.Assert(parsed && consumed == 4, "Utf8JsonReader accepted a \\u escape without four hex digits.");
        return value;
    }
}

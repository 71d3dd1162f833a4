using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// The ids a partition's clicks repeat (ads, advertisers, campaigns, publishers, countries, user agents), one string
/// each: decoding a record looks its UTF-8 bytes up here instead of allocating a new string per click, so a click of
/// a known ad allocates none of them, and the window rows' keys compare by reference first. Belongs to one thread
/// (a partition's processor). Bounded: once it holds <c>capacity</c> strings it starts again empty, so a long tail of
/// ids seen once costs memory for a while, never for good.
/// </summary>
public sealed class IdPool
{
    // Longer ids are decoded as they are (ids are short; this keeps the decode buffer on the stack).
    private const int PooledBytesMax = 256;

    private readonly HashSet<string> _strings = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _capacity;

    public IdPool(int capacity = 1 << 18)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Strings held now.</summary>
    public int Count => _strings.Count;

    /// <summary>The string of these UTF-8 bytes, the same instance as the last time they were seen (if still held).</summary>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return "";
        }

        if (utf8.Length > PooledBytesMax)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        // UTF-8 never decodes to more UTF-16 chars than it has bytes (invalid bytes become one U+FFFD each).
        Span<char> chars = stackalloc char[PooledBytesMax];
        int length = Encoding.UTF8.GetChars(utf8, chars);
        ReadOnlySpan<char> text = chars[..length];
        if (_lookup.TryGetValue(text, out string? held))
        {
            return held;
        }

        if (_strings.Count >= _capacity)
        {
            _strings.Clear();
        }

        string value = new(text);
        _strings.Add(value);
        return value;
    }
}

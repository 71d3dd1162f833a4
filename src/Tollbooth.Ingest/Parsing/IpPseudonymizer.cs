using System.Net;
using System.Security.Cryptography;

namespace Tollbooth.Ingest.Parsing;

/// <summary>
/// Replaces an IP address by a keyed hash (HMAC-SHA256 with the data directory's secret over the ASCII of the
/// canonical address text, first 16 bytes, lower-case hex): the same address always gives the same value, and
/// raw addresses are never kept. The value is stored in log records and the archive and the <c>ip=</c> filter
/// recomputes it, so it must never change (docs/ip-pseudonymisation.md).
/// </summary>
public sealed class IpPseudonymizer(byte[] secretKey)
{
    /// <summary>Characters of a hash: 16 bytes in hex.</summary>
    public const int HashLength = 32;

    public static string Canonical(IPAddress address) =>
        (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    public string Hash(IPAddress address)
    {
        Span<byte> hex = stackalloc byte[HashLength];
        Hash(address, hex);
        return System.Text.Encoding.ASCII.GetString(hex);
    }

    /// <summary>The hash as <see cref="HashLength"/> ASCII hex bytes into <paramref name="hex"/>; no string, no heap allocation for IPv4.</summary>
    public void Hash(IPAddress address, Span<byte> hex)
    {
        IPAddress canonical = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        Span<byte> text = stackalloc byte[64];
        if (!canonical.TryFormat(text, out int written))
        {
            throw new InvalidOperationException($"An IP address did not fit {text.Length} bytes of text.");
        }

        HashCanonical(text[..written], hex);
    }

    /// <summary>The hash of an address already in canonical text (ASCII bytes), into <paramref name="hex"/>.</summary>
    public void HashCanonical(ReadOnlySpan<byte> canonicalAscii, Span<byte> hex)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(secretKey, canonicalAscii, mac);
        ToHex(mac, hex);
    }

    /// <summary>A hasher that keeps the key set up, for hashing many addresses on one thread.</summary>
    public IpHasher CreateHasher() => new(secretKey);

    /// <summary>The first <see cref="HashLength"/> / 2 bytes of a MAC as lower-case hex.</summary>
    internal static void ToHex(ReadOnlySpan<byte> mac, Span<byte> hex)
    {
        for (int i = 0; i < HashLength / 2; i++)
        {
            hex[2 * i] = (byte)"0123456789abcdef"[mac[i] >> 4];
            hex[(2 * i) + 1] = (byte)"0123456789abcdef"[mac[i] & 0xF];
        }
    }
}

using System.Security.Cryptography;

namespace Tollbooth.Ingest.Parsing;

/// <summary>
/// <see cref="IpPseudonymizer.HashCanonical"/> for many addresses in a row (one request's): the HMAC key is set up
/// once, not per address, which was most of the cost of a click with an IP. The same hashes. Not thread-safe.
/// </summary>
public sealed class IpHasher : IDisposable
{
    private readonly IncrementalHash _hmac;

    internal IpHasher(byte[] secretKey)
    {
        _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secretKey);
    }

    /// <summary>The hash of an address already in canonical text (ASCII bytes), into <paramref name="hex"/>.</summary>
    public void HashCanonical(ReadOnlySpan<byte> canonicalAscii, Span<byte> hex)
    {
        Span<byte> mac = stackalloc byte[32];
        _hmac.AppendData(canonicalAscii);
        int written = _hmac.GetHashAndReset(mac);
        System.Diagnostics.Debug.Assert(written == mac.Length, "HMAC-SHA256 gives 32 bytes.");
        IpPseudonymizer.ToHex(mac, hex);
    }

    public void Dispose() => _hmac.Dispose();
}

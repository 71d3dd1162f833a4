using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Tollbooth.Ingest.Parsing;

/// <summary>
/// Replaces an IP address by a keyed hash (HMAC-SHA256 with the data directory's secret, first 16
/// bytes, hex): the same address always gives the same value, and raw addresses are never kept.
/// </summary>
public sealed class IpPseudonymizer(byte[] secretKey)
{
    public static string Canonical(IPAddress address) =>
        (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    public string Hash(IPAddress address)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(secretKey, Encoding.ASCII.GetBytes(Canonical(address)), mac);
        return Convert.ToHexStringLower(mac[..16]);
    }
}

// Goal: the IP hash stored in log records and archives, and recomputed by the ip= query filter, stays exactly what
// it has always been (HMAC-SHA256 over the canonical address text, first 16 bytes, lower-case hex), now computed
// without intermediate strings. Method: the historical formula, written out here, against the pseudonymiser over
// fixed and seeded-random IPv4, IPv6 and IPv4-mapped addresses.
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Tollbooth.Ingest.Parsing;

namespace Tollbooth.Ingest.Tests;

public sealed class IpPseudonymizerTests
{
    private static readonly byte[] s_key = Enumerable.Range(7, 32).Select(i => (byte)i).ToArray();

    private static string Historical(IPAddress address)
    {
        string canonical = (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
        return Convert.ToHexStringLower(HMACSHA256.HashData(s_key, Encoding.ASCII.GetBytes(canonical))[..16]);
    }

    [Theory]
    [InlineData("203.0.113.7")]
    [InlineData("0.0.0.0")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:198.51.100.4")]
    [InlineData("fe80::1%3")]
    public void An_address_hashes_to_the_value_archived_data_holds(string text)
    {
        var ips = new IpPseudonymizer(s_key);
        IPAddress address = IPAddress.Parse(text);
        Assert.Equal(Historical(address), ips.Hash(address));
    }

    [Fact]
    public void Random_addresses_hash_to_the_historical_value()
    {
        int seed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED") is { } s ? int.Parse(s) : 1616;
        var random = new Random(seed);
        var ips = new IpPseudonymizer(s_key);
        for (int i = 0; i < 2000; i++)
        {
            byte[] bytes = new byte[random.Next(2) == 0 ? 4 : 16];
            random.NextBytes(bytes);
            var address = new IPAddress(bytes);
            Assert.True(Historical(address) == ips.Hash(address), $"{address} hashed differently (seed {seed}; replay with TOLLBOOTH_TEST_SEED={seed}).");
        }
    }

    [Fact]
    public void A_reused_hasher_gives_every_address_the_historical_hash()
    {
        var ips = new IpPseudonymizer(s_key);
        using IpHasher hasher = ips.CreateHasher();
        Span<byte> hex = stackalloc byte[IpPseudonymizer.HashLength];
        foreach (string text in (string[])["203.0.113.7", "0.0.0.0", "2001:db8::1", "::ffff:10.0.0.1", "255.255.255.255", "::", "fe80::1"])
        {
            var address = IPAddress.Parse(text);
            string canonical = IpPseudonymizer.Canonical(address);
            hasher.HashCanonical(Encoding.ASCII.GetBytes(canonical), hex);
            Assert.Equal(Historical(address), Encoding.ASCII.GetString(hex));
        }
    }
}

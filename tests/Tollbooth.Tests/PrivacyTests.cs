// Goal: IP addresses never reach disk, logs or answers in clear or as an unkeyed hash (API.md: IPs are
// stored only as a keyed hash). Method: canary addresses (IPv4, IPv6, IPv4-mapped IPv6) are sent in
// accepted and in rejected clicks; then every byte Tollbooth wrote (the data directory after a clean
// stop, its output, the answers) is searched for their text forms, their binary forms and their
// SHA-256, SHA-1 and MD5 hex digests.
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class PrivacyTests
{
    [Fact]
    public async Task Canary_ips_appear_nowhere_tollbooth_wrote()
    {
        string[] canaries = ["198.51.100.77", "2001:db8::beef:77", "::ffff:198.51.100.78"];
        using var server = new TollboothProcess(null, "--Processing:CommitIntervalMs", "20");
        server.Start();
        using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        string minute = DateTimeOffset.UtcNow.AddMinutes(-2).ToString("yyyy-MM-dd'T'HH:mm:00'Z'");
        var answers = new StringBuilder();
        foreach (string ip in canaries)
        {
            string good = JsonSerializer.Serialize(new { ad_id = "priv-ad", advertiser_id = "priv-adv", ip, timestamp = minute });
            string bad = JsonSerializer.Serialize(new { ad_id = "priv-ad", advertiser_id = "priv-adv", ip, device = "toaster", timestamp = minute });
            using HttpResponseMessage response = await client.PostClicksAsync($"[{good},{bad}]");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            answers.Append(await response.Content.ReadAsStringAsync());
        }

        await client.WaitForLagZeroAsync();
        Assert.Equal(3, await client.CountAsync("priv-ad", minute, DateTimeOffset.UtcNow.AddMinutes(1).ToString("yyyy-MM-dd'T'HH:mm:00'Z'")));
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));

        var needles = new List<(string What, byte[] Bytes)>();
        foreach (string ip in canaries)
        {
            IPAddress address = IPAddress.Parse(ip);
            foreach (string text in new[] { ip, address.ToString(), address.IsIPv4MappedToIPv6 ? address.MapToIPv4().ToString() : ip }.Distinct())
            {
                needles.Add(($"{ip} as text {text}", Encoding.UTF8.GetBytes(text)));
                byte[] utf8 = Encoding.UTF8.GetBytes(text);
                needles.Add(($"SHA-256 of {text}", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(utf8)))));
                needles.Add(($"SHA-1 of {text}", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA1.HashData(utf8)))));
                needles.Add(($"MD5 of {text}", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(MD5.HashData(utf8)))));
                needles.Add(($"raw SHA-256 of {text}", SHA256.HashData(utf8)));
            }

            if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                needles.Add(($"{ip} as 16 bytes", address.GetAddressBytes()));
            }
        }

        var haystacks = Directory.EnumerateFiles(server.DataDirectory, "*", SearchOption.AllDirectories)
            .Select(path => (Name: path, Bytes: File.ReadAllBytes(path)))
            .Append((Name: "server output", Bytes: Encoding.UTF8.GetBytes(server.Output)))
            .Append((Name: "answers", Bytes: Encoding.UTF8.GetBytes(answers.ToString())))
            .ToList();
        Assert.Contains(haystacks, h => h.Name.EndsWith(".seg", StringComparison.Ordinal) || h.Name.Contains("log", StringComparison.Ordinal));
        foreach ((string name, byte[] bytes) in haystacks)
        {
            foreach ((string what, byte[] needle) in needles)
            {
                Assert.True(bytes.AsSpan().IndexOf(needle) < 0, $"{what} found in {name}");
            }
        }
    }
}

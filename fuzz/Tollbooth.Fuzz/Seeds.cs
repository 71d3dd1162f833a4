using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Tollbooth.Fuzz;

/// <summary>
/// The starting corpus: a few small inputs per target that reach the interesting paths (accepted clicks,
/// each kind of rejection, tokens that verify, expire or name a retired key), for afl-fuzz to mutate.
/// </summary>
internal static class Seeds
{
    private const string Valid =
        "{\"click_id\":\"c-1\",\"ad_id\":\"ad1\",\"advertiser_id\":\"adv1\",\"campaign_id\":\"camp\",\"publisher_id\":\"pub1\"," +
        "\"user_id\":\"u1\",\"ip\":\"203.0.113.7\",\"country\":\"us\",\"device\":\"mobile\",\"user_agent\":\"Mozilla/5.0\"," +
        "\"timestamp\":\"2026-11-18T08:00:00Z\",\"cost_micros\":250}";

    public static void Write(string root)
    {
        Write(root, "json", "seed-object.json", Valid);
        Write(root, "json", "seed-array.json",
            $"[{Valid},{{\"advertiser_id\":\"a\"}},7,{{\"ad_id\":\"x\",\"advertiser_id\":\"y\",\"ip\":\"2001:db8::1\",\"timestamp\":{Fixtures.NowMs - 5000},\"token\":\"abc\"}}," +
            "{\"ad_id\":\"x\",\"advertiser_id\":\"y\",\"country\":\"usa\",\"device\":\"toaster\",\"cost_micros\":-1,\"user_agent\":\"\\u0001\",\"click_id\":\"bad id\"}]");
        Write(root, "json", "seed-escapes.json", "[{\"ad_id\":\"\\ud800\",\"advertiser_id\":\"y\"},{\"ad_id\":\"\\u00e9\\ud83d\\ude00\",\"advertiser_id\":\"y\",\"timestamp\":\"9999-12-31T23:59:59+14:00\"}]");
        Write(root, "ndjson", "seed-lines.ndjson",
            $"{Valid}\n\n{{\"ad_id\":\"b\",\"advertiser_id\":\"y\",\"timestamp\":{Fixtures.NowMs}}}\r\n{{not json\n[1,2]\n\"text\"\n{{\"advertiser_id\":\"y\"}}");
        Write(root, "validator", "seed-strings.bin", Fields(1, [.. ((string[])["c-9", "ad9", "adv9", "camp9", "pub-k", "u9", "198.51.100.4", "de", "tablet", "agent", "2026-11-18T08:30:00+01:00"]).Select(t => Segment(1, t)), [0], Segment(1, "tok")]));
        // Numbers of under 8 bytes are read big-endian, and a first byte of 0x80 or more counts back from the server clock.
        Write(root, "validator", "seed-numbers.bin", Fields(0, [Segment(1, "ad8"), Segment(1, "ad8"), Segment(1, "adv8"), [0], Segment(1, "pub-x"), Segment(3, ""), Segment(1, "::ffff:10.0.0.1"), Segment(1, "ZZ"), Segment(3, ""), Segment(1, ""), [2, 0x80, 0x00, 0xEA, 0x60], [2, 0x04, 0xD2], Segment(3, "")]));
        Write(root, "validator", "seed-raw.bin", Fields(1, [Segment(4, "c\\u0041"), Segment(4, "\\ud800"), Segment(1, "adv")]));
        (string token, _) = Fixtures.Tokens.Issue("ad1", "adv1", "camp1", "pub1", 1500, "https://example.com/landing?x=1", 86_400_000L);
        (string expired, _) = Fixtures.Tokens.Issue("ad2", "adv2", "", "", 0, "", -1000);
        Write(root, "token", "seed-text.bin", Concat([0], Encoding.ASCII.GetBytes(token)));
        Write(root, "token", "seed-bytes.bin", Concat([1], Base64Url.DecodeFromChars(token)));
        Write(root, "token", "seed-expired.bin", Concat([1], Base64Url.DecodeFromChars(expired)));
        Write(root, "token", "seed-retired.bin", Concat([1], SignedByRetiredKey()));
        Write(root, "token", "seed-garbage.bin", Concat([0], Encoding.ASCII.GetBytes("not a token!")));
        Write(root, "token", "seed-issue.bin", Concat([2], Encoding.UTF8.GetBytes("ad3"), [0xFF], Encoding.UTF8.GetBytes("adv3"), [0xFF, 0xFF, 0xFF], Encoding.UTF8.GetBytes("https://example.com/"), [0xFF, 0x10, 0x27, 0xFF, 0x00, 0x5C, 0x26, 0x05, 0xFF, 0x07, 0, 0, 0, 0x41]));
    }

    private static void Write(string root, string target, string name, string text) => Write(root, target, name, Encoding.UTF8.GetBytes(text));

    private static void Write(string root, string target, string name, byte[] bytes)
    {
        string directory = Path.Combine(root, target);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, name), bytes);
    }

    // The validator's input: a header byte, then the field segments separated by 0xFF.
    private static byte[] Fields(byte header, byte[][] segments) =>
        Concat([[header], .. segments.SelectMany((segment, i) => i == 0 ? [segment] : (byte[][])[[0xFF], segment])]);

    private static byte[] Segment(byte kind, string text) => Concat([kind], Encoding.UTF8.GetBytes(text));

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    // The token layout of ClickTokens, signed with the retired key: well formed, but it must not verify.
    private static byte[] SignedByRetiredKey()
    {
        var body = new List<byte> { 1, (byte)Fixtures.RetiredKeyId.Length };
        body.AddRange(Encoding.ASCII.GetBytes(Fixtures.RetiredKeyId));
        body.AddRange(new byte[16]);
        body.AddRange(BitConverter.GetBytes(Fixtures.NowMs + 86_400_000L));
        body.AddRange(BitConverter.GetBytes(0L));
        foreach (string text in (string[])["ad1", "adv1", "", "", ""])
        {
            body.AddRange(BitConverter.GetBytes((ushort)text.Length));
            body.AddRange(Encoding.UTF8.GetBytes(text));
        }

        body.AddRange(HMACSHA256.HashData(Fixtures.RetiredSecret, body.ToArray()));
        return body.ToArray();
    }
}

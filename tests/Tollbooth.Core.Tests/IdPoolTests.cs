// Goal: decoding a click record through the processors' id pool gives exactly the click that decoding without it
// gives (the pool changes allocations, never a value, so counts and replays are unchanged), the repeated fields come
// back as one instance, and the pool stays bounded. Method: seeded random clicks (ASCII, non-ASCII, empty and
// over-256-byte fields) encoded and decoded both ways; seeded random byte strings, valid UTF-8 or not, compared
// with Encoding.UTF8.GetString; a pool of capacity 4 fed ten ids. The seed is in every failure message.
using System.Text;
using Tollbooth.Core;

namespace Tollbooth.Core.Tests;

public sealed class IdPoolTests
{
    private static readonly string[] s_pieces = ["ad", "é", "广告", "😀", "-", "7", "Z"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Decoding_through_the_pool_gives_the_same_click_as_without_it(int seed)
    {
        var random = new Random(seed);
        var pool = new IdPool();
        for (int i = 0; i < 2_000; i++)
        {
            byte[] record = ClickCodec.Encode(RandomClick(random));
            Click plain = ClickCodec.Decode(record);
            Click pooled = ClickCodec.Decode(record, pool);
            Assert.True(Fields(plain) == Fields(pooled), $"seed {seed}, click {i}: {Fields(plain)} became {Fields(pooled)}");
        }
    }

    [Fact]
    public void A_repeated_id_comes_back_as_the_same_string()
    {
        var pool = new IdPool();
        byte[] record = ClickCodec.Encode(new Click { ClickId = "c1", AdId = "ad-7", AdvertiserId = "adv-1", Country = "DE", UserAgent = "Mozilla/5.0" });
        byte[] other = ClickCodec.Encode(new Click { ClickId = "c2", AdId = "ad-7", AdvertiserId = "adv-1", Country = "DE", UserAgent = "Mozilla/5.0" });
        Click first = ClickCodec.Decode(record, pool);
        Click second = ClickCodec.Decode(other, pool);
        Assert.Same(first.AdId, second.AdId);
        Assert.Same(first.AdvertiserId, second.AdvertiserId);
        Assert.Same(first.Country, second.Country);
        Assert.Same(first.UserAgent, second.UserAgent);
        Assert.NotSame(first.ClickId, second.ClickId);
        Assert.Equal(("c1", "c2"), (first.ClickId, second.ClickId));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void Any_bytes_decode_as_utf8_would_valid_or_not(int seed)
    {
        var random = new Random(seed);
        var pool = new IdPool();
        for (int i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            if (random.Next(2) == 0)
            {
                // Mostly ASCII with a few high bytes, so valid multi-byte sequences and broken ones both occur.
                for (int b = 0; b < bytes.Length; b++)
                {
                    bytes[b] = random.Next(8) == 0 ? bytes[b] : (byte)random.Next(0x20, 0x7F);
                }
            }

            string expected = Encoding.UTF8.GetString(bytes);
            Assert.True(expected == pool.Get(bytes), $"seed {seed}, input {i}: {Convert.ToHexString(bytes)}");
            Assert.True(expected == pool.Get(bytes), $"seed {seed}, input {i} again: {Convert.ToHexString(bytes)}");
        }
    }

    [Fact]
    public void A_full_pool_starts_again_and_still_answers_right()
    {
        var pool = new IdPool(capacity: 4);
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal("id" + i, pool.Get(Encoding.UTF8.GetBytes("id" + i)));
                Assert.InRange(pool.Count, 1, 4);
            }
        }
    }

    private static Click RandomClick(Random random) => new()
    {
        ClickId = RandomText(random, 40),
        AdId = "ad" + random.Next(20),
        AdvertiserId = RandomText(random, 6),
        CampaignId = random.Next(3) == 0 ? "" : "camp" + random.Next(5),
        PublisherId = RandomText(random, 4),
        UserId = RandomText(random, 12),
        IpHash = RandomText(random, 8),
        Country = random.Next(2) == 0 ? "US" : "",
        UserAgent = random.Next(10) == 0 ? new string('u', 200) + RandomText(random, 60) : RandomText(random, 5),
        Token = RandomText(random, 3),
        TimestampMs = random.NextInt64(0, 1L << 45),
        ReceivedMs = random.NextInt64(0, 1L << 45),
        CostMicros = random.Next(1_000_000),
        Device = (Device)random.Next(3),
    };

    private static string RandomText(Random random, int piecesMax)
    {
        var text = new StringBuilder();
        int pieces = random.Next(piecesMax + 1);
        for (int i = 0; i < pieces; i++)
        {
            text.Append(s_pieces[random.Next(s_pieces.Length)]);
        }

        return text.ToString();
    }

    private static string Fields(Click c) => string.Join(
        '|',
        c.ClickId, c.AdId, c.AdvertiserId, c.CampaignId, c.PublisherId, c.UserId, c.IpHash, c.Country, c.UserAgent, c.Token,
        c.TimestampMs, c.ReceivedMs, c.CostMicros, c.Device, c.Signature, c.SignedRequired);
}

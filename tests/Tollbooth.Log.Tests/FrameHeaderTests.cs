// Goal: pin the on-disk frame layout and the CRC32C it uses, since every segment ever written depends on them.
// Method: a hand-built frame compared byte for byte; the CRC against the standard check value and against a
// bitwise reference implementation over seeded random inputs of every length up to 64 (covering the
// 8-bytes-at-a-time path and its tail).
using System.Text;

namespace Tollbooth.Log.Tests;

public sealed class FrameHeaderTests(ITestOutputHelper output)
{
    [Fact]
    public void Frame_header_is_eight_bytes_of_length_then_crc32c_of_length_and_payload_little_endian()
    {
        byte[] payload = Encoding.ASCII.GetBytes("abc");
        var header = FrameHeader.For(payload);
        var bytes = new byte[FrameHeader.Size];
        header.Write(bytes);

        uint expectedCrc = ReferenceCrc32C([3, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c']);
        byte[] expected =
        [
            3, 0, 0, 0,
            (byte)expectedCrc, (byte)(expectedCrc >> 8), (byte)(expectedCrc >> 16), (byte)(expectedCrc >> 24),
        ];
        Assert.Equal(8, FrameHeader.Size);
        Assert.Equal(expected, bytes);
        Assert.Equal(3u, FrameHeader.Read(bytes).Length);
        Assert.Equal(expectedCrc, FrameHeader.Read(bytes).Checksum);
        Assert.True(FrameHeader.Read(bytes).Verifies(payload));
    }

    [Fact]
    public void Header_does_not_verify_a_payload_with_a_flipped_bit_or_another_length()
    {
        byte[] payload = Encoding.ASCII.GetBytes("click payload");
        var header = FrameHeader.For(payload);
        byte[] flipped = (byte[])payload.Clone();
        flipped[4] ^= 0x01;
        Assert.False(header.Verifies(flipped));
        Assert.False(header.Verifies(payload.AsSpan(0, payload.Length - 1)));
    }

    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
    }

    [Fact]
    public void Crc32C_matches_a_bitwise_reference_for_every_length_up_to_64()
    {
        var random = new Random(TestSeed.Next(output));
        for (int length = 0; length <= 64; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(ReferenceCrc32C(data), Crc32C.Compute(data));
        }
    }

    /// <summary>CRC32C one bit at a time (reflected polynomial 0x82F63B78), independent of the code under test.</summary>
    private static uint ReferenceCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFF_FFFF;
        foreach (byte value in data)
        {
            crc ^= value;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1;
            }
        }

        return ~crc;
    }
}

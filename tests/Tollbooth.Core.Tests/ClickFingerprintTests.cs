// Goal: a click id's fingerprint is XxHash128 (seed 0) of its UTF-8 bytes, stable across builds (it is
// stored in dedup snapshots), distinct for distinct ids, and computed without allocation for ids up to
// 512 bytes. Method: pinned values (one is the published XXH3-128 vector of the empty input), a direct
// comparison with XxHash128 over Encoding.UTF8 at the stack/heap boundaries, and an allocation counter.
using System.IO.Hashing;
using System.Text;
using Tollbooth.Core;

namespace Tollbooth.Core.Tests;

public sealed class ClickFingerprintTests
{
    [Fact]
    public void Known_id_has_a_pinned_fingerprint()
    {
        Assert.Equal(new UInt128(0xBBF21946B4C7254D, 0x5BDF596496BB31EE), ClickFingerprint.Of("click-1"));
    }

    [Fact]
    public void Empty_id_gives_the_published_xxh3_128_value()
    {
        Assert.Equal(new UInt128(0x99AA06D3014798D8, 0x6001C324468D497F), ClickFingerprint.Of(""));
    }

    [Fact]
    public void Different_ids_differ()
    {
        var seen = new HashSet<UInt128>();
        for (int i = 0; i < 100_000; i++)
        {
            Assert.True(seen.Add(ClickFingerprint.Of($"click-{i}")), $"click-{i} collided");
        }

        Assert.NotEqual(ClickFingerprint.Of("abc"), ClickFingerprint.Of("abd"));
        Assert.NotEqual(ClickFingerprint.Of("abc"), ClickFingerprint.Of("abc "));
    }

    [Theory]
    [InlineData(170, 'é')] // 340 bytes, encoded straight onto the stack
    [InlineData(170, '€')] // 510 bytes, the most the fast path can meet
    [InlineData(171, 'a')] // counted first, still on the stack
    [InlineData(512, 'a')] // exactly the stack buffer
    [InlineData(513, 'a')] // first length that rents
    [InlineData(300, '€')] // 900 bytes, rented
    [InlineData(100_000, 'x')]
    public void Long_ids_hash_their_whole_utf8_bytes(int length, char fill)
    {
        string id = new(fill, length);
        Assert.Equal(XxHash128.HashToUInt128(Encoding.UTF8.GetBytes(id)), ClickFingerprint.Of(id));
        Assert.NotEqual(ClickFingerprint.Of(id), ClickFingerprint.Of(id[..^1]));
    }

    [Fact]
    public void Surrogate_pairs_hash_as_four_utf8_bytes()
    {
        string id = string.Concat(Enumerable.Repeat("😀", 128)); // 256 chars, 512 bytes
        Assert.Equal(XxHash128.HashToUInt128(Encoding.UTF8.GetBytes(id)), ClickFingerprint.Of(id));
    }

    [Fact]
    public void Ids_up_to_512_bytes_allocate_nothing()
    {
        string shortId = "c9f0d0e2-6a8e-4c55-9d1f-2b1b6a0f8e11";
        string longId = new('a', ClickFingerprint.StackBytesMax);
        ClickFingerprint.Of(shortId);
        ClickFingerprint.Of(longId);
        long before = GC.GetAllocatedBytesForCurrentThread();
        UInt128 sum = 0;
        for (int i = 0; i < 1_000; i++)
        {
            sum += ClickFingerprint.Of(shortId) + ClickFingerprint.Of(longId);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.NotEqual(UInt128.Zero, sum);
    }
}

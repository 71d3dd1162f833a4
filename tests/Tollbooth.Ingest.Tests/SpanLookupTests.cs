// Goal: the character-span entry points the record parser uses (AdDirectory.Remember, ClickSigning.RequiresSigned,
// TimeText.TryParse) answer exactly as their string versions, so no record or owner differs by which path made it.
// Method: each pair over the same inputs, including first-seen and already-known ids and awkward timestamps.
using Tollbooth.Core;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Ingest.Tests;

public sealed class SpanLookupTests
{
    [Fact]
    public void Remembering_an_ad_from_characters_keeps_the_first_owner_like_the_string_version()
    {
        var ads = new AdDirectory();
        ads.Remember("ad1".AsSpan(), "adv1".AsSpan());
        ads.Remember("ad1".AsSpan(), "adv2".AsSpan());
        ads.Remember("ad2", "adv3");
        ads.Remember("ad2".AsSpan(), "adv4".AsSpan());
        Assert.Equal("adv1", ads.OwnerOf("ad1"));
        Assert.Equal("adv3", ads.OwnerOf("ad2"));
        Assert.Null(ads.OwnerOf("ad3"));
    }

    [Fact]
    public void Whether_an_advertiser_requires_signed_clicks_is_the_same_from_characters_and_from_a_string()
    {
        var signing = new ClickSigning(ClickTokens.Open(new NoKeys(), new FixedClock()), new OneSignedAdvertiser());
        Assert.True(signing.RequiresSigned("signed".AsSpan()));
        Assert.True(signing.RequiresSigned("signed"));
        Assert.False(signing.RequiresSigned("other".AsSpan()));
        Assert.False(signing.RequiresSigned("other"));
        Assert.False(signing.RequiresSigned("signe".AsSpan()));
    }

    [Theory]
    [InlineData("2026-11-18T00:00:00Z")]
    [InlineData("2026-11-18t00:00:00.123+01:00")]
    [InlineData("2026-11-18 00:00:00-05:00")]
    [InlineData("2026-11-18T00:00:00")]
    [InlineData("1795000000000")]
    [InlineData("253402300800000")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("2026-13-18T00:00:00Z")]
    [InlineData("Wed, 18 Nov 2026 00:00:00Z")]
    [InlineData("-1")]
    public void A_timestamp_parses_the_same_from_characters_and_from_a_string(string text)
    {
        bool fromString = TimeText.TryParse(text, out long stringMs);
        bool fromChars = TimeText.TryParse(text.AsSpan(), out long charsMs);
        Assert.Equal((fromString, stringMs), (fromChars, charsMs));
    }

    private sealed class FixedClock : IClock
    {
        public long UtcNowMs => 1_795_000_000_000;
    }

    private sealed class OneSignedAdvertiser : ISettingsStore
    {
        public AdvertiserSettings? FindAdvertiser(string advertiserId) =>
            advertiserId == "signed" ? AdvertiserSettings.Default(advertiserId) with { RequireSignedClicks = true } : null;

        public void PutAdvertiser(AdvertiserSettings settings) => throw new NotSupportedException("The test only reads settings.");

        public void AddFilter(SavedFilter filter) => throw new NotSupportedException("The test only reads settings.");

        public SavedFilter? FindFilter(string filterId) => null;
    }

    private sealed class NoKeys : ITokenKeyStore
    {
        private readonly List<TokenKey> _keys = [];

        public IReadOnlyList<TokenKey> ListTokenKeys() => _keys;

        public void AddTokenKey(TokenKey key) => _keys.Add(key);

        public bool RetireTokenKey(string keyId) => false;
    }
}

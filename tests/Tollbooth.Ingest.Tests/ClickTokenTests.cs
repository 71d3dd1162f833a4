// Goal: a click token verifies only as issued: any changed byte, an expired one, a retired or unknown
// key, a wrong length or bad base64 is refused with its reason, and a rotation keeps old links working.
// Method: tokens issued against an in-memory key list and a settable clock; every byte of a real token
// is flipped in turn.
using System.Buffers.Text;
using Tollbooth.Core;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Ingest.Tests;

public sealed class ClickTokenTests
{
    private const long Now = 1_795_000_000_000;

    private sealed class SettableClock : IClock
    {
        public long UtcNowMs { get; set; } = Now;
    }

    // The store's contract, in memory: the unit under test is the token format, not the database.
    private sealed class KeyList : ITokenKeyStore
    {
        private readonly List<TokenKey> _keys = [];

        public IReadOnlyList<TokenKey> ListTokenKeys() => _keys.ToList();

        public void AddTokenKey(TokenKey key) => _keys.Add(key);

        public bool RetireTokenKey(string keyId)
        {
            int index = _keys.FindIndex(k => k.KeyId == keyId);
            if (index < 0)
            {
                return false;
            }

            _keys[index] = _keys[index] with { Retired = true };
            return true;
        }
    }

    private static (ClickTokens Tokens, SettableClock Clock) Make()
    {
        var clock = new SettableClock();
        return (ClickTokens.Open(new KeyList(), clock), clock);
    }

    private static string Issue(ClickTokens tokens, long ttlMs = 60_000) =>
        tokens.Issue("ad1", "adv1", "camp1", "pub1", 1500, "https://example.com/landing?x=1", ttlMs).Token;

    [Fact]
    public void An_issued_token_verifies_and_carries_what_was_signed()
    {
        (ClickTokens tokens, _) = Make();
        (string token, TokenClaims issued) = tokens.Issue("ad1", "adv1", "camp1", "pub1", 1500, "https://example.com/landing?x=1", 60_000);

        Assert.Equal(TokenProblem.None, tokens.Verify(token, out TokenClaims? read));
        Assert.Equal(issued, read);
        Assert.StartsWith("tok:", read!.ClickId);
        Assert.Matches("^[A-Za-z0-9_-]+$", token);
    }

    [Fact]
    public void Two_tokens_for_the_same_ad_have_different_click_ids()
    {
        (ClickTokens tokens, _) = Make();
        tokens.Verify(Issue(tokens), out TokenClaims? first);
        tokens.Verify(Issue(tokens), out TokenClaims? second);
        Assert.NotEqual(first!.ClickId, second!.ClickId);
    }

    [Fact]
    public void Every_changed_byte_of_a_token_is_refused()
    {
        (ClickTokens tokens, _) = Make();
        byte[] bytes = Base64Url.DecodeFromChars(Issue(tokens));
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] tampered = (byte[])bytes.Clone();
            tampered[i] ^= 0x01;
            TokenProblem problem = tokens.Verify(Base64Url.EncodeToString(tampered), out _);
            Assert.True(problem != TokenProblem.None, $"flipping byte {i} of {bytes.Length} went unnoticed");
        }
    }

    [Fact]
    public void A_changed_signature_or_field_is_a_bad_signature()
    {
        (ClickTokens tokens, _) = Make();
        byte[] bytes = Base64Url.DecodeFromChars(Issue(tokens));
        byte[] lastByte = (byte[])bytes.Clone();
        lastByte[^1] ^= 0x80;
        Assert.Equal(TokenProblem.BadSignature, tokens.Verify(Base64Url.EncodeToString(lastByte), out _));

        // The ad id "ad1" sits right after its length; "ad2" keeps the layout readable but unsigned.
        int at = bytes.AsSpan().IndexOf("ad1"u8);
        bytes[at + 2] = (byte)'2';
        Assert.Equal(TokenProblem.BadSignature, tokens.Verify(Base64Url.EncodeToString(bytes), out TokenClaims? claims));
        Assert.Equal("ad2", claims!.AdId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("not base64 at all!")]
    [InlineData("AAAA====")]
    public void A_token_of_the_wrong_length_or_encoding_is_malformed(string token)
    {
        (ClickTokens tokens, _) = Make();
        Assert.Equal(TokenProblem.Malformed, tokens.Verify(token, out TokenClaims? claims));
        Assert.Null(claims);
    }

    [Fact]
    public void Cut_or_lengthened_tokens_are_refused()
    {
        (ClickTokens tokens, _) = Make();
        string token = Issue(tokens);
        for (int cut = 1; cut < token.Length; cut += 3)
        {
            Assert.NotEqual(TokenProblem.None, tokens.Verify(token[..^cut], out _));
        }

        Assert.NotEqual(TokenProblem.None, tokens.Verify(token + "AAAA", out _));
        Assert.Equal(TokenProblem.Malformed, tokens.Verify(new string('A', ClickTokens.TokenLengthMax + 4), out _));
    }

    [Fact]
    public void A_token_expires_at_its_expiry_and_not_before()
    {
        (ClickTokens tokens, SettableClock clock) = Make();
        string token = Issue(tokens, ttlMs: 60_000);
        clock.UtcNowMs = Now + 59_999;
        Assert.Equal(TokenProblem.None, tokens.Verify(token, out _));
        clock.UtcNowMs = Now + 60_000;
        Assert.Equal(TokenProblem.Expired, tokens.Verify(token, out _));
    }

    [Fact]
    public void After_a_rotation_old_tokens_verify_until_their_key_is_retired()
    {
        (ClickTokens tokens, _) = Make();
        string old = Issue(tokens);
        string firstKey = tokens.Keys[0].KeyId;
        TokenKey second = tokens.Rotate();
        string fresh = Issue(tokens);
        tokens.Verify(fresh, out TokenClaims? freshClaims);
        Assert.Equal(second.KeyId, freshClaims!.KeyId);
        Assert.Equal(TokenProblem.None, tokens.Verify(old, out _));

        Assert.True(tokens.Retire(firstKey));
        Assert.Equal(TokenProblem.UnknownKey, tokens.Verify(old, out _));
        Assert.Equal(TokenProblem.None, tokens.Verify(fresh, out _));
        Assert.False(tokens.Retire(second.KeyId));
    }

    [Fact]
    public void A_token_from_another_server_has_an_unknown_key()
    {
        (ClickTokens ours, _) = Make();
        (ClickTokens theirs, _) = Make();
        Assert.Equal(TokenProblem.UnknownKey, ours.Verify(Issue(theirs), out _));
    }

    [Fact]
    public void Every_problem_has_a_code_and_one_sentence()
    {
        foreach (TokenProblem problem in Enum.GetValues<TokenProblem>().Where(p => p != TokenProblem.None))
        {
            Assert.StartsWith("token_", ClickTokens.CodeOf(problem));
            string sentence = ClickTokens.Describe(problem);
            Assert.EndsWith(".", sentence);
            Assert.Single(sentence.Split(". ", StringSplitOptions.None));
        }
    }
}

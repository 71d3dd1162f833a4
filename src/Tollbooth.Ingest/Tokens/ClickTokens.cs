using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Tollbooth.Core;

namespace Tollbooth.Ingest.Tokens;

/// <summary>The fields a click token signs.</summary>
public sealed record TokenClaims(
    string KeyId,
    string ClickId,
    long ExpiresAtMs,
    string AdId,
    string AdvertiserId,
    string CampaignId,
    string PublisherId,
    long CostMicros,
    string LandingUrl);

/// <summary>Why a token did not verify; <see cref="None"/> when it did.</summary>
public enum TokenProblem
{
    None,
    Malformed,
    UnknownKey,
    BadSignature,
    Expired,
}

/// <summary>
/// Signed click links. A token is base64url (no padding) of: version 1 (1 byte) | key id length (1) | key id |
/// token id (16 random bytes) | expiry, ms since the epoch (8) | cost_micros (8) | ad_id, advertiser_id,
/// campaign_id, publisher_id, landing URL (each a u16 length and UTF-8) | HMAC-SHA256 of everything before
/// it (32). The click id of a token's click is <c>tok:</c> and the token id in hex, so a reloaded link is a
/// duplicate. Signatures are compared in constant time.
/// </summary>
public sealed class ClickTokens
{
    public const int LandingUrlLengthMax = 2048;
    public const int TokenLengthMax = 4096;
    private const byte Version = 1;
    private const int MacSize = 32;
    private const int TokenIdSize = 16;

    private readonly ITokenKeyStore _store;
    private readonly IClock _clock;
    private readonly object _rotation = new();
    private volatile KeySet _keys;

    private ClickTokens(ITokenKeyStore store, IClock clock)
    {
        _store = store;
        _clock = clock;
        _keys = new KeySet(store.ListTokenKeys());
    }

    /// <summary>Loads the keys, making the first one when there is none.</summary>
    public static ClickTokens Open(ITokenKeyStore store, IClock clock)
    {
        var tokens = new ClickTokens(store, clock);
        if (tokens._keys.Signing is null)
        {
            tokens.Rotate();
        }

        return tokens;
    }

    public IReadOnlyList<TokenKey> Keys => _keys.All;

    /// <summary>Makes a new key that signs from now on; older keys still verify until retired.</summary>
    public TokenKey Rotate()
    {
        lock (_rotation)
        {
            // The newest key signs: a new one is never older than the last, whatever the clock did.
            long createdMs = Math.Max(_clock.UtcNowMs, _keys.All.Count == 0 ? 0 : _keys.All[^1].CreatedAt.ToUnixTimeMilliseconds() + 1);
            var key = new TokenKey(
                "k" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)),
                RandomNumberGenerator.GetBytes(32),
                DateTimeOffset.FromUnixTimeMilliseconds(createdMs),
                Retired: false);
            _store.AddTokenKey(key);
            _keys = new KeySet(_store.ListTokenKeys());
            return key;
        }
    }

    /// <summary>Retires a key: its tokens stop verifying. False when unknown, or when it is the only key left.</summary>
    public bool Retire(string keyId)
    {
        lock (_rotation)
        {
            if (!_keys.Active.ContainsKey(keyId) || _keys.Active.Count == 1 || !_store.RetireTokenKey(keyId))
            {
                return false;
            }

            _keys = new KeySet(_store.ListTokenKeys());
            return true;
        }
    }

    /// <summary>Signs the claims (their key id and click id are chosen here) and returns the token.</summary>
    public (string Token, TokenClaims Claims) Issue(string adId, string advertiserId, string campaignId, string publisherId, long costMicros, string landingUrl, long ttlMs)
    {
        TokenKey key = _keys.Signing!;
        byte[] id = RandomNumberGenerator.GetBytes(TokenIdSize);
        var claims = new TokenClaims(
            key.KeyId, ClickIdOf(id), _clock.UtcNowMs + ttlMs, adId, advertiserId, campaignId, publisherId, costMicros, landingUrl);
        byte[] keyId = Encoding.ASCII.GetBytes(key.KeyId);
        string[] texts = [adId, advertiserId, campaignId, publisherId, landingUrl];
        int size = 1 + 1 + keyId.Length + TokenIdSize + 8 + 8 + texts.Sum(t => 2 + Encoding.UTF8.GetByteCount(t)) + MacSize;
        var bytes = new byte[size];
        bytes[0] = Version;
        bytes[1] = (byte)keyId.Length;
        keyId.CopyTo(bytes, 2);
        int offset = 2 + keyId.Length;
        id.CopyTo(bytes, offset);
        offset += TokenIdSize;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), claims.ExpiresAtMs);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset + 8), costMicros);
        offset += 16;
        foreach (string text in texts)
        {
            int written = Encoding.UTF8.GetBytes(text, bytes.AsSpan(offset + 2));
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(offset), (ushort)written);
            offset += 2 + written;
        }

        HMACSHA256.HashData(key.Secret, bytes.AsSpan(0, offset), bytes.AsSpan(offset));
        return (Base64Url.EncodeToString(bytes), claims);
    }

    /// <summary>
    /// Checks a token. <paramref name="claims"/> is set whenever the token could be read, even when it
    /// did not verify (so an invalid click can be counted against the ad it names); null when malformed.
    /// </summary>
    public TokenProblem Verify(string token, out TokenClaims? claims)
    {
        claims = null;
        if (token.Length is 0 or > TokenLengthMax || !Base64Url.IsValid(token, out int decodedLength) || decodedLength < 2 + TokenIdSize + 16 + 10 + MacSize)
        {
            return TokenProblem.Malformed;
        }

        byte[] bytes = new byte[decodedLength];
        if (Base64Url.DecodeFromChars(token, bytes) != decodedLength || bytes[0] != Version)
        {
            return TokenProblem.Malformed;
        }

        if (!TryRead(bytes, out claims, out int signedLength))
        {
            return TokenProblem.Malformed;
        }

        if (!_keys.Active.TryGetValue(claims!.KeyId, out TokenKey? key))
        {
            return TokenProblem.UnknownKey;
        }

        Span<byte> expected = stackalloc byte[MacSize];
        HMACSHA256.HashData(key.Secret, bytes.AsSpan(0, signedLength), expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, bytes.AsSpan(signedLength)))
        {
            return TokenProblem.BadSignature;
        }

        return claims.ExpiresAtMs <= _clock.UtcNowMs ? TokenProblem.Expired : TokenProblem.None;
    }

    /// <summary>One sentence a person can act on, for a 403.</summary>
    public static string Describe(TokenProblem problem) => problem switch
    {
        TokenProblem.Malformed => "The click token is not a token Tollbooth issued (wrong length or encoding): use the link exactly as issued.",
        TokenProblem.UnknownKey => "The click token was signed with a key this server does not know or has retired: issue a new token.",
        TokenProblem.BadSignature => "The click token's signature does not match its contents: use the link exactly as issued.",
        TokenProblem.Expired => "The click token has expired: issue a new token.",
        _ => "",
    };

    /// <summary>The stable error code of a problem.</summary>
    public static string CodeOf(TokenProblem problem) => problem switch
    {
        TokenProblem.Malformed => "token_malformed",
        TokenProblem.UnknownKey => "token_unknown_key",
        TokenProblem.BadSignature => "token_bad_signature",
        TokenProblem.Expired => "token_expired",
        _ => "",
    };

    private static string ClickIdOf(ReadOnlySpan<byte> tokenId) => "tok:" + Convert.ToHexStringLower(tokenId);

    private static bool TryRead(byte[] bytes, out TokenClaims? claims, out int signedLength)
    {
        claims = null;
        signedLength = 0;
        int keyIdLength = bytes[1];
        int offset = 2 + keyIdLength;
        if (keyIdLength == 0 || offset + TokenIdSize + 16 > bytes.Length)
        {
            return false;
        }

        string keyId = Encoding.ASCII.GetString(bytes, 2, keyIdLength);
        string clickId = ClickIdOf(bytes.AsSpan(offset, TokenIdSize));
        offset += TokenIdSize;
        long expiresAtMs = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(offset));
        long costMicros = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(offset + 8));
        offset += 16;
        var texts = new string[5];
        for (int i = 0; i < texts.Length; i++)
        {
            if (offset + 2 > bytes.Length - MacSize)
            {
                return false;
            }

            int length = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset));
            offset += 2;
            if (offset + length > bytes.Length - MacSize)
            {
                return false;
            }

            try
            {
                texts[i] = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, offset, length);
            }
            catch (DecoderFallbackException)
            {
                return false;
            }

            offset += length;
        }

        if (offset != bytes.Length - MacSize || costMicros < 0 || texts[0].Length == 0 || texts[1].Length == 0)
        {
            return false;
        }

        signedLength = offset;
        claims = new TokenClaims(keyId, clickId, expiresAtMs, texts[0], texts[1], texts[2], texts[3], costMicros, texts[4]);
        return true;
    }

    private sealed class KeySet
    {
        public KeySet(IReadOnlyList<TokenKey> keys)
        {
            All = keys;
            Active = keys.Where(k => !k.Retired).ToDictionary(k => k.KeyId, StringComparer.Ordinal);
            Signing = keys.LastOrDefault(k => !k.Retired);
        }

        public IReadOnlyList<TokenKey> All { get; }

        public Dictionary<string, TokenKey> Active { get; }

        public TokenKey? Signing { get; }
    }
}

using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Fuzz;

/// <summary>
/// The click token check, against one fixed signing key and one retired key. The first input byte picks a
/// mode: 0, the rest is the token text; 1, the rest is the token's bytes (base64url-encoded here, so the
/// fuzzer works on the binary layout); 2, the rest describes claims, split by 0xFF, which are issued, checked,
/// then one byte of the token is changed. Contract: Verify never throws and says the same twice; a malformed
/// token has no claims and any other has; a token verifies only when its last 32 bytes are the HMAC-SHA256,
/// under the signing key, of the rest (checked here apart from ClickTokens) and it names that key and has not
/// expired; an issued token verifies with the claims issued, and with any one byte changed it does not.
/// </summary>
public static class TokenTarget
{
    private const int MacSize = 32;

    public static FuzzResult Run(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0)
        {
            return Check("");
        }

        ReadOnlySpan<byte> rest = input[1..];
        return (input[0] % 3) switch
        {
            0 => Check(Encoding.Latin1.GetString(rest)),
            1 => Check(Base64Url.EncodeToString(rest)),
            _ => IssueAndTamper(rest),
        };
    }

    private static FuzzResult Check(string token)
    {
        TokenProblem problem = Fixtures.Tokens.Verify(token, out TokenClaims? claims);
        TokenProblem again = Fixtures.Tokens.Verify(token, out TokenClaims? claimsAgain);
        FuzzContractException.Require(problem == again && claims == claimsAgain, "The same token verified twice gave different answers.");
        FuzzContractException.Require((problem == TokenProblem.Malformed) == (claims is null), $"A token judged {problem} has {(claims is null ? "no" : "")} claims.");
        FuzzContractException.Require(Enum.IsDefined(problem), $"Verify answered {(int)problem}, which is no problem it documents.");
        if (problem != TokenProblem.None)
        {
            FuzzContractException.Require(ClickTokens.CodeOf(problem).StartsWith("token_", StringComparison.Ordinal) && ClickTokens.Describe(problem).EndsWith('.'), $"{problem} has no code or sentence.");
            return new FuzzResult(0, 1, BodyRejected: false, Verified: false);
        }

        FuzzContractException.Require(IsSignedBySigningKey(token), "A token verified whose signature is not the signing key's HMAC of its contents.");
        FuzzContractException.Require(claims!.KeyId == Fixtures.SigningKeyId, $"A token verified under key '{claims.KeyId}', which does not sign.");
        FuzzContractException.Require(claims.ExpiresAtMs > Fixtures.NowMs, "An expired token verified.");
        FuzzContractException.Require(claims.AdId.Length > 0 && claims.AdvertiserId.Length > 0 && claims.CostMicros >= 0, "A verified token names no ad or advertiser, or a negative cost.");
        FuzzContractException.Require(claims.ClickId.StartsWith("tok:", StringComparison.Ordinal) && claims.ClickId.Length == 4 + 32, $"A verified token's click id '{claims.ClickId}' is not tok: and 32 hex digits.");
        return new FuzzResult(1, 0, BodyRejected: false, Verified: true);
    }

    // Independent of ClickTokens: base64url, then the last 32 bytes must be the HMAC of the rest under the signing key.
    private static bool IsSignedBySigningKey(string token)
    {
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(token);
        }
        catch (FormatException)
        {
            return false;
        }

        if (bytes.Length <= MacSize)
        {
            return false;
        }

        byte[] expected = HMACSHA256.HashData(Fixtures.SigningSecret, bytes.AsSpan(0, bytes.Length - MacSize));
        return CryptographicOperations.FixedTimeEquals(expected, bytes.AsSpan(bytes.Length - MacSize));
    }

    private static FuzzResult IssueAndTamper(ReadOnlySpan<byte> input)
    {
        string[] texts = new string[5];
        long[] numbers = new long[3];
        int field = 0;
        Span<byte> eight = stackalloc byte[8];
        foreach (Range range in input.Split((byte)0xFF))
        {
            ReadOnlySpan<byte> segment = input[range];
            if (field < texts.Length)
            {
                // The API's limits: ids up to 64 characters, the landing URL up to 2048. The cut never splits a
                // surrogate pair: the API's JSON reader cannot hand the issuer a lone surrogate (an earlier cut here
                // did, and the claims then came back with U+FFFD: a harness bug, kept as crash-60234bf429f6d1d3).
                string text = Encoding.UTF8.GetString(segment);
                int cut = Math.Min(text.Length, field == 4 ? ClickTokens.LandingUrlLengthMax : 64);
                if (cut > 0 && cut < text.Length && char.IsHighSurrogate(text[cut - 1]))
                {
                    cut--;
                }

                texts[field] = text[..cut];
            }
            else if (field < texts.Length + numbers.Length)
            {
                eight.Clear();
                segment[..Math.Min(8, segment.Length)].CopyTo(eight);
                numbers[field - texts.Length] = BinaryPrimitives.ReadInt64LittleEndian(eight);
            }

            field++;
        }

        (string ad, string advertiser, string campaign, string publisher, string landing) = (texts[0] ?? "", texts[1] ?? "", texts[2] ?? "", texts[3] ?? "", texts[4] ?? "");
        long cost = numbers[0] & long.MaxValue;
        long ttlMs = (numbers[1] % 1_000_000_000_000L) - 1_000_000L; // Mostly in the future, sometimes expired; never overflowing.
        (string token, TokenClaims issued) = Fixtures.Tokens.Issue(ad, advertiser, campaign, publisher, cost, landing, ttlMs);
        TokenProblem problem = Fixtures.Tokens.Verify(token, out TokenClaims? read);
        TokenProblem expected = ad.Length == 0 || advertiser.Length == 0 ? TokenProblem.Malformed : ttlMs <= 0 ? TokenProblem.Expired : TokenProblem.None;
        FuzzContractException.Require(problem == expected, $"A token issued for ad '{ad}', advertiser '{advertiser}', ttl {ttlMs} ms was judged {problem}, not {expected}.");
        FuzzContractException.Require(problem == TokenProblem.Malformed || read == issued, $"A token issued with {issued} reads back as {read}.");
        FuzzContractException.Require(problem != TokenProblem.None || IsSignedBySigningKey(token), "An issued token is not signed by the signing key.");
        FuzzResult result = Check(token);

        // Any one byte changed: the token no longer verifies.
        byte[] bytes = Base64Url.DecodeFromChars(token);
        int position = (int)((ulong)numbers[2] % (ulong)bytes.Length);
        bytes[position] ^= (byte)Math.Max(1, (numbers[2] >> 32) & 0xFF);
        string tampered = Base64Url.EncodeToString(bytes);
        FuzzContractException.Require(Fixtures.Tokens.Verify(tampered, out _) != TokenProblem.None, $"A token with byte {position} changed still verifies.");
        return result + Check(tampered);
    }
}

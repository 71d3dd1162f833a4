using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// API keys: made with a random secret shown once, stored as its SHA-256, looked up per request
/// through a cache that a revocation clears at once.
/// </summary>
public sealed class KeyRing(IKeyStore store, IClock clock)
{
    private const string SecretPrefix = "tb_";
    private readonly ConcurrentDictionary<string, ApiKey?> _bySecretHash = new(StringComparer.Ordinal);

    public static string HashSecret(string secret) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>The key a presented secret stands for, or null when it is unknown or revoked.</summary>
    public ApiKey? Authenticate(string secret)
    {
        string hash = HashSecret(secret);
        return _bySecretHash.GetOrAdd(hash, static (h, s) => s.FindBySecretHash(h), store);
    }

    /// <summary>Makes a key; returns it and its secret (shown once, never stored).</summary>
    public (ApiKey Key, string Secret) Create(ApiKeyRole role, string? publisherId, string? advertiserId, string? secret = null)
    {
        secret ??= SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
        var key = new ApiKey(
            "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            role,
            publisherId,
            advertiserId,
            HashSecret(secret),
            DateTimeOffset.FromUnixTimeMilliseconds(clock.UtcNowMs));
        store.AddKey(key);
        _bySecretHash.TryRemove(key.SecretHash, out _);
        return (key, secret);
    }

    public IReadOnlyList<ApiKey> List() => store.ListKeys();

    public bool Delete(string keyId)
    {
        bool deleted = store.DeleteKey(keyId);
        _bySecretHash.Clear();
        return deleted;
    }

    public bool AnyAdmin()
    {
        foreach (ApiKey key in store.ListKeys())
        {
            if (key.Role == ApiKeyRole.Admin)
            {
                return true;
            }
        }

        return false;
    }
}

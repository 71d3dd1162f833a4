namespace Tollbooth.Core;

/// <summary>The role of an API key: what it may do.</summary>
public enum ApiKeyRole : byte
{
    Admin = 1,
    Publisher = 2,
    Advertiser = 3,
}

/// <summary>
/// A stored API key. Only the SHA-256 of the secret is kept (<see cref="SecretHash"/>, lower-case hex);
/// the secret itself is shown once, when the key is made.
/// </summary>
public sealed record ApiKey(
    string KeyId,
    ApiKeyRole Role,
    string? PublisherId,
    string? AdvertiserId,
    string SecretHash,
    DateTimeOffset CreatedAt);

/// <summary>Where keys are kept. Thread-safe.</summary>
public interface IKeyStore
{
    void AddKey(ApiKey key);

    ApiKey? FindBySecretHash(string secretHash);

    IReadOnlyList<ApiKey> ListKeys();

    /// <summary>Revokes at once; false when no such key.</summary>
    bool DeleteKey(string keyId);
}

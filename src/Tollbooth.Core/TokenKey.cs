namespace Tollbooth.Core;

/// <summary>
/// A key that signs click tokens. The newest key that is not retired signs; every key that is not retired
/// verifies, so a rotation leaves links already handed out working until their key is retired.
/// </summary>
public sealed record TokenKey(string KeyId, byte[] Secret, DateTimeOffset CreatedAt, bool Retired);

/// <summary>Where token keys live (the store, beside the API keys).</summary>
public interface ITokenKeyStore
{
    IReadOnlyList<TokenKey> ListTokenKeys();

    void AddTokenKey(TokenKey key);

    /// <summary>Marks a key retired: tokens signed with it stop verifying. False when no such key.</summary>
    bool RetireTokenKey(string keyId);
}

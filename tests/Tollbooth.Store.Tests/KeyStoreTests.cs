// Goal: the store keeps API keys as given (IKeyStore): found by secret hash, listed by creation time then
// id, deleted once. Method: keys of every role, with and without owner ids, go into a store in a temp
// directory and are compared as records, which compares every field.
using DuckDB.NET.Data;
using Tollbooth.Core;

namespace Tollbooth.Store.Tests;

public sealed class KeyStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly DuckDbStore _store;

    public KeyStoreTests()
    {
        _store = DuckDbStore.Open(_directory.DatabasePath);
    }

    public void Dispose()
    {
        _store.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public void Added_keys_of_every_role_are_found_by_their_secret_hash()
    {
        ApiKey admin = Key("key_a", ApiKeyRole.Admin, null, null, 10);
        ApiKey publisher = Key("key_p", ApiKeyRole.Publisher, "pub1", null, 20);
        ApiKey advertiser = Key("key_v", ApiKeyRole.Advertiser, null, "adv1", 30);
        _store.AddKey(admin);
        _store.AddKey(publisher);
        _store.AddKey(advertiser);

        Assert.Equal(admin, _store.FindBySecretHash(admin.SecretHash));
        Assert.Equal(publisher, _store.FindBySecretHash(publisher.SecretHash));
        Assert.Equal(advertiser, _store.FindBySecretHash(advertiser.SecretHash));
        Assert.Null(_store.FindBySecretHash("no such hash"));
    }

    [Fact]
    public void Keys_are_listed_by_creation_time_then_key_id()
    {
        ApiKey late = Key("key_a", ApiKeyRole.Admin, null, null, 300);
        ApiKey earlyB = Key("key_b", ApiKeyRole.Publisher, "pub1", null, 100);
        ApiKey earlyA = Key("key_c", ApiKeyRole.Advertiser, null, "adv1", 100) with { KeyId = "key_0" };
        _store.AddKey(late);
        _store.AddKey(earlyB);
        _store.AddKey(earlyA);

        Assert.Equal([earlyA, earlyB, late], _store.ListKeys());
    }

    [Fact]
    public void Deleting_a_key_revokes_it_and_reports_whether_it_existed()
    {
        ApiKey kept = Key("key_1", ApiKeyRole.Admin, null, null, 1);
        ApiKey revoked = Key("key_2", ApiKeyRole.Publisher, "pub1", null, 2);
        _store.AddKey(kept);
        _store.AddKey(revoked);

        Assert.True(_store.DeleteKey("key_2"));
        Assert.False(_store.DeleteKey("key_2"));
        Assert.False(_store.DeleteKey("key_unknown"));

        Assert.Null(_store.FindBySecretHash(revoked.SecretHash));
        Assert.Equal([kept], _store.ListKeys());
    }

    [Fact]
    public void A_second_key_with_the_same_id_or_secret_hash_is_refused()
    {
        ApiKey key = Key("key_1", ApiKeyRole.Admin, null, null, 1);
        _store.AddKey(key);

        Assert.Throws<DuckDBException>(() => _store.AddKey(key with { SecretHash = "other" }));
        Assert.Throws<DuckDBException>(() => _store.AddKey(key with { KeyId = "key_2" }));
        Assert.Equal([key], _store.ListKeys());
    }

    private static ApiKey Key(string keyId, ApiKeyRole role, string? publisherId, string? advertiserId, long createdAtMs)
    {
        return new ApiKey(keyId, role, publisherId, advertiserId, "hash_" + keyId, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + createdAtMs));
    }
}

using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Fuzz;

/// <summary>
/// Everything a target runs against is fixed (clock, IP key, token keys), so an input behaves the same in
/// AFL, in the corpus replay and on any machine.
/// </summary>
internal static class Fixtures
{
    /// <summary>2026-11-18, the server clock of every run.</summary>
    public const long NowMs = 1_795_000_000_000;

    public const string SigningKeyId = "kfuzz";
    public const string RetiredKeyId = "kretired";
    public const string KeyPublisherId = "pub-k";

    // Small limits, so that the fuzzer can reach the 413 paths with small inputs.
    public static readonly IngestLimits Limits = new() { ClicksPerRequestMax = 64, BodyBytesMax = 64 * 1024, FutureSkewMsMax = 5 * 60_000L };

    public static readonly byte[] SigningSecret = Enumerable.Range(0, 32).Select(i => (byte)(0x40 + i)).ToArray();
    public static readonly byte[] RetiredSecret = Enumerable.Range(0, 32).Select(i => (byte)(0x90 + i)).ToArray();

    public static readonly ClickParser Parser = new(Limits, new FixedClock(NowMs), new IpPseudonymizer(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()));

    public static readonly ClickTokens Tokens = ClickTokens.Open(new FixedKeys(), new FixedClock(NowMs));

    /// <summary>Partitions of the log the record parser writes for (more than one, so records are grouped).</summary>
    public const int PartitionCount = 4;

    /// <summary>Signing over the fixed keys; an advertiser whose id starts with "signed" requires signed clicks.</summary>
    public static readonly ClickSigning Signing = new(Tokens, new FixedSettings());

    /// <summary>The parser ingest runs, with the reference parser's limits, clock and IP key.</summary>
    public static readonly ClickRecordParser RecordParser = Parser.RecordParser(Signing);

    private sealed class FixedClock(long nowMs) : IClock
    {
        public long UtcNowMs => nowMs;
    }

    private sealed class FixedSettings : ISettingsStore
    {
        public AdvertiserSettings? FindAdvertiser(string advertiserId) =>
            advertiserId.StartsWith("signed", StringComparison.Ordinal) ? AdvertiserSettings.Default(advertiserId) with { RequireSignedClicks = true } : null;

        public void PutAdvertiser(AdvertiserSettings settings) => throw new FuzzContractException("The fuzz harness's settings are fixed.");

        public void AddFilter(SavedFilter filter) => throw new FuzzContractException("The fuzz harness's settings are fixed.");

        public SavedFilter? FindFilter(string filterId) => null;
    }

    /// <summary>One signing key and one retired key; nothing is ever added or retired while fuzzing.</summary>
    private sealed class FixedKeys : ITokenKeyStore
    {
        private readonly TokenKey[] _keys =
        [
            new(RetiredKeyId, RetiredSecret, DateTimeOffset.FromUnixTimeMilliseconds(NowMs - 86_400_000L), Retired: true),
            new(SigningKeyId, SigningSecret, DateTimeOffset.FromUnixTimeMilliseconds(NowMs - 3_600_000L), Retired: false),
        ];

        public IReadOnlyList<TokenKey> ListTokenKeys() => _keys;

        public void AddTokenKey(TokenKey key) => throw new FuzzContractException("The fuzz harness's keys are fixed: no key may be added.");

        public bool RetireTokenKey(string keyId) => throw new FuzzContractException("The fuzz harness's keys are fixed: no key may be retired.");
    }
}

using System.Text;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Ingest.Tests;

/// <summary>
/// The reference parser (ClickParser, then ClickSigning.Judge and ClickCodec.Encode per accepted click, grouped by
/// Partitioner.PartitionOf) and the record parser over the same limits, clock, IP key and signing, with each outcome
/// described as text: equal text, equal outcome, down to every record's bytes and its partition.
/// </summary>
internal sealed class ParserPair
{
    public const long Now = 1_795_000_000_000;
    public const int PartitionCount = 3;

    public ParserPair(IngestLimits limits)
    {
        Clock = new SettableClock();
        Tokens = ClickTokens.Open(new KeyList(), Clock);
        Signing = new ClickSigning(Tokens, new SignedAdvertisers());
        Reference = new ClickParser(limits, Clock, new IpPseudonymizer(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()));
        Records = Reference.RecordParser(Signing);
    }

    public SettableClock Clock { get; }

    public ClickTokens Tokens { get; }

    public ClickSigning Signing { get; }

    public ClickParser Reference { get; }

    public ClickRecordParser Records { get; }

    /// <summary>The reference outcome and the record parser's, as text.</summary>
    public (string Expected, string Actual) Both(byte[] body, string contentType, string? keyPublisherId)
    {
        ParseOutcome reference = Reference.Parse(body, contentType, keyPublisherId);
        string expected = DescribeReference(reference);
        using ClickRecords records = Records.Parse(body, contentType, keyPublisherId, PartitionCount);
        return (expected, Describe(records));
    }

    private string DescribeReference(ParseOutcome outcome)
    {
        if (outcome.BodyError is { } error)
        {
            return $"{error.Status} {error.Code}: {error.Message}\n";
        }

        var perPartition = new List<byte[]>[PartitionCount];
        for (int i = 0; i < PartitionCount; i++)
        {
            perPartition[i] = [];
        }

        foreach (ParsedClick parsed in outcome.Accepted)
        {
            Signing.Judge(parsed.Click);
            perPartition[Partitioner.PartitionOf(parsed.Click.AdId, PartitionCount)].Add(ClickCodec.Encode(parsed.Click));
        }

        var text = new StringBuilder().Append("accepted ").Append(outcome.Accepted.Count).Append('\n');
        DescribeRejections(text, outcome.Rejections);
        for (int partition = 0; partition < PartitionCount; partition++)
        {
            foreach (byte[] record in perPartition[partition])
            {
                text.Append(partition).Append(": ").Append(Convert.ToHexString(record)).Append('\n');
            }
        }

        return text.ToString();
    }

    private static string Describe(ClickRecords records)
    {
        if (records.BodyError is { } error)
        {
            return $"{error.Status} {error.Code}: {error.Message}\n";
        }

        var text = new StringBuilder().Append("accepted ").Append(records.Accepted).Append('\n');
        DescribeRejections(text, records.Rejections);
        foreach (Tollbooth.Log.PartitionRecords batch in records.Batches())
        {
            ReadOnlySpan<byte> bytes = batch.Records.Span;
            foreach (int length in batch.Lengths.Span)
            {
                text.Append(batch.Partition).Append(": ").Append(Convert.ToHexString(bytes[..length])).Append('\n');
                bytes = bytes[length..];
            }

            Assert.True(bytes.IsEmpty, $"Partition {batch.Partition}'s lengths do not add up to its buffer.");
        }

        return text.ToString();
    }

    private static void DescribeRejections(StringBuilder text, IReadOnlyList<Rejection> rejections)
    {
        foreach (Rejection rejection in rejections)
        {
            text.Append(rejection.Index).Append(" rejected ").Append(rejection.Code).Append(": ").Append(rejection.Error).Append('\n');
        }
    }

    public sealed class SettableClock : IClock
    {
        public long UtcNowMs { get; set; } = Now;
    }

    /// <summary>Advertisers whose id starts with "signed" require signed clicks; every other one does not.</summary>
    private sealed class SignedAdvertisers : ISettingsStore
    {
        public AdvertiserSettings? FindAdvertiser(string advertiserId) =>
            advertiserId.StartsWith("signed", StringComparison.Ordinal) ? AdvertiserSettings.Default(advertiserId) with { RequireSignedClicks = true } : null;

        public void PutAdvertiser(AdvertiserSettings settings) => throw new NotSupportedException("Parsing never writes settings.");

        public void AddFilter(SavedFilter filter) => throw new NotSupportedException("Parsing never writes settings.");

        public SavedFilter? FindFilter(string filterId) => null;
    }

    private sealed class KeyList : ITokenKeyStore
    {
        private readonly List<TokenKey> _keys = [];

        public IReadOnlyList<TokenKey> ListTokenKeys() => _keys.ToList();

        public void AddTokenKey(TokenKey key) => _keys.Add(key);

        public bool RetireTokenKey(string keyId) => throw new NotSupportedException("The test never retires a key.");
    }
}

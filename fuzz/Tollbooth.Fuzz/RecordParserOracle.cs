using System.Text;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Log;

namespace Tollbooth.Fuzz;

/// <summary>
/// The record parser ingest runs must give what the reference parser gives for the same body: the same body error,
/// the same rejections in order, and per partition the records ClickCodec.Encode writes for the reference's clicks
/// after ClickSigning.Judge. Both outcomes are written as text (records in hex) and compared.
/// </summary>
internal static class RecordParserOracle
{
    public static void RequireSame(ReadOnlySpan<byte> body, string contentType, string? keyPublisherId)
    {
        string expected = Describe(Fixtures.Parser.Parse(body, contentType, keyPublisherId));
        string actual;
        using (ClickRecords records = Fixtures.RecordParser.Parse(body, contentType, keyPublisherId, Fixtures.PartitionCount))
        {
            actual = Describe(records);
        }

        if (expected != actual)
        {
            throw new FuzzContractException($"The record parser and the reference parser differ (key publisher {keyPublisherId ?? "none"}):\nreference:\n{expected}\nrecord parser:\n{actual}");
        }
    }

    private static string Describe(ParseOutcome outcome)
    {
        if (outcome.BodyError is { } error)
        {
            return $"{error.Status} {error.Code}: {error.Message}\n";
        }

        var perPartition = new List<(int Partition, byte[] Record)>();
        foreach (ParsedClick parsed in outcome.Accepted)
        {
            Fixtures.Signing.Judge(parsed.Click);
            perPartition.Add((Partitioner.PartitionOf(parsed.Click.AdId, Fixtures.PartitionCount), ClickCodec.Encode(parsed.Click)));
        }

        var text = new StringBuilder().Append("accepted ").Append(outcome.Accepted.Count).Append('\n');
        Describe(text, outcome.Rejections);
        foreach ((int partition, byte[] record) in perPartition.OrderBy(p => p.Partition))
        {
            text.Append(partition).Append(": ").Append(Convert.ToHexString(record)).Append('\n');
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
        Describe(text, records.Rejections);
        foreach (PartitionRecords batch in records.Batches())
        {
            ReadOnlySpan<byte> bytes = batch.Records.Span;
            foreach (int length in batch.Lengths.Span)
            {
                text.Append(batch.Partition).Append(": ").Append(Convert.ToHexString(bytes[..length])).Append('\n');
                bytes = bytes[length..];
            }

            FuzzContractException.Require(bytes.IsEmpty, $"Partition {batch.Partition}'s record lengths do not add up to its buffer.");
        }

        return text.ToString();
    }

    private static void Describe(StringBuilder text, IReadOnlyList<Rejection> rejections)
    {
        foreach (Rejection rejection in rejections)
        {
            text.Append(rejection.Index).Append(" rejected ").Append(rejection.Code).Append(": ").Append(rejection.Error).Append('\n');
        }
    }
}

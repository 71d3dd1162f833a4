using BenchmarkDotNet.Attributes;
using Tollbooth.Benchmarks;
using Tollbooth.Core;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Microbench;

/// <summary>
/// A request body to log records, as <c>POST /v1/clicks</c> does it: <see cref="ClickRecordParser"/> over a
/// 1,000-click body (realistic clicks from the seeded workload, each with an IPv4 address hashed with the keyed
/// pseudonymiser), as a JSON array and as NDJSON, the records written into the pooled partition buffers and the
/// buffers returned. Per click: what remains is per request (its <see cref="ClickRecords"/>), not per click.
/// </summary>
[MemoryDiagnoser]
public class ParseToRecordBenchmark
{
    private const int Clicks = 1_000;
    private const int Partitions = 8;

    private ClickRecordParser _parser = null!;
    private byte[] _body = [];
    private string _contentType = "";

    [Params(false, true)]
    public bool Ndjson { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var limits = new IngestLimits();
        var reference = new ClickParser(limits, SystemClock.Instance, new IpPseudonymizer(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()));
        _parser = reference.RecordParser(new ClickSigning(ClickTokens.Open(new ClickBodies.NoTokenKeys(), SystemClock.Instance), new ClickBodies.NoAdvertisers()));
        _body = ClickBodies.Body(Clicks, SystemClock.Instance.UtcNowMs, Ndjson);
        _contentType = Ndjson ? "application/x-ndjson" : "application/json";
    }

    [Benchmark(OperationsPerInvoke = Clicks)]
    public int ParseToRecords()
    {
        using ClickRecords records = _parser.Parse(_body, _contentType, null, Partitions);
        return records.Accepted == Clicks ? Clicks : throw new InvalidOperationException($"The body parsed to {records.Accepted} accepted clicks, not {Clicks}.");
    }
}

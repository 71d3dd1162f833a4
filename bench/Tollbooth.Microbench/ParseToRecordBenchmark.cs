using System.Globalization;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
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
        _parser = reference.RecordParser(new ClickSigning(ClickTokens.Open(new NoTokenKeys(), SystemClock.Instance), new NoAdvertisers()));
        _body = Body(SystemClock.Instance.UtcNowMs, Ndjson);
        _contentType = Ndjson ? "application/x-ndjson" : "application/json";
    }

    [Benchmark(OperationsPerInvoke = Clicks)]
    public int ParseToRecords()
    {
        using ClickRecords records = _parser.Parse(_body, _contentType, null, Partitions);
        return records.Accepted == Clicks ? Clicks : throw new InvalidOperationException($"The body parsed to {records.Accepted} accepted clicks, not {Clicks}.");
    }

    private static byte[] Body(long now, bool ndjson)
    {
        var workload = new Tollbooth.Benchmarks.Workload(seed: 7);
        var text = new StringBuilder(ndjson ? "" : "[");
        for (int i = 0; i < Clicks; i++)
        {
            Click click = workload.Next(now);
            text.Append(i == 0 ? "" : ndjson ? "\n" : ",").Append(JsonSerializer.Serialize(new
            {
                click_id = click.ClickId,
                ad_id = click.AdId,
                advertiser_id = click.AdvertiserId,
                campaign_id = click.CampaignId,
                publisher_id = click.PublisherId,
                user_id = click.UserId,
                ip = string.Create(CultureInfo.InvariantCulture, $"198.51.{i % 256}.{(i * 7) % 256}"),
                country = click.Country,
                device = DeviceNames.ToWire(click.Device),
                user_agent = click.UserAgent,
                timestamp = click.TimestampMs,
                cost_micros = click.CostMicros,
            }));
        }

        return Encoding.UTF8.GetBytes(text.Append(ndjson ? "" : "]").ToString());
    }

    // No advertiser requires signed clicks and no token key exists: the clicks carry no token.
    private sealed class NoAdvertisers : ISettingsStore
    {
        public AdvertiserSettings? FindAdvertiser(string advertiserId) => null;

        public void PutAdvertiser(AdvertiserSettings settings) => throw new NotSupportedException("The benchmark only reads settings.");

        public void AddFilter(SavedFilter filter) => throw new NotSupportedException("The benchmark only reads settings.");

        public SavedFilter? FindFilter(string filterId) => null;
    }

    private sealed class NoTokenKeys : ITokenKeyStore
    {
        private readonly List<TokenKey> _keys = [];

        public IReadOnlyList<TokenKey> ListTokenKeys() => _keys;

        public void AddTokenKey(TokenKey key) => _keys.Add(key);

        public bool RetireTokenKey(string keyId) => false;
    }
}

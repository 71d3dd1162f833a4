using System.Globalization;
using System.Text;
using System.Text.Json;
using Tollbooth.Core;

namespace Tollbooth.Benchmarks;

/// <summary>
/// Request bodies of the seeded workload's clicks, each with an IPv4 address, as a JSON array or NDJSON, and the
/// empty settings and token keys the parsers are built over (no advertiser requires signed clicks, no click carries a
/// token): shared by the parse benchmark and the parse-to-record microbenchmark.
/// </summary>
public static class ClickBodies
{
    public static byte[] Body(int clicks, long now, bool ndjson)
    {
        var workload = new Workload(seed: 7);
        var text = new StringBuilder(ndjson ? "" : "[");
        for (int i = 0; i < clicks; i++)
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

    /// <summary>No advertiser settings: none requires signed clicks.</summary>
    public sealed class NoAdvertisers : ISettingsStore
    {
        public AdvertiserSettings? FindAdvertiser(string advertiserId) => null;

        public void PutAdvertiser(AdvertiserSettings settings) => throw new NotSupportedException("The benchmark only reads settings.");

        public void AddFilter(SavedFilter filter) => throw new NotSupportedException("The benchmark only reads settings.");

        public SavedFilter? FindFilter(string filterId) => null;
    }

    /// <summary>Token keys in memory, none at the start.</summary>
    public sealed class NoTokenKeys : ITokenKeyStore
    {
        private readonly List<TokenKey> _keys = [];

        public IReadOnlyList<TokenKey> ListTokenKeys() => _keys;

        public void AddTokenKey(TokenKey key) => _keys.Add(key);

        public bool RetireTokenKey(string keyId) => false;
    }
}

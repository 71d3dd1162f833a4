using Parquet;
using Parquet.Schema;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Archive;

/// <summary>
/// The columns of an archive file: the log position, every field of the click as ingest stored it (the
/// IP only as its keyed hash), what ingest decided about its token, the verdict and the version of the rule
/// set that decided it; for an erased click, what stands in for its user in the unique-user sketch. One row
/// group per file.
/// </summary>
public static class ArchiveFormat
{
    private static readonly DataField<int> s_partition = new("partition");
    private static readonly DataField<long> s_position = new("position");
    private static readonly DataField<string> s_clickId = new("click_id");
    private static readonly DataField<string> s_adId = new("ad_id");
    private static readonly DataField<string> s_advertiserId = new("advertiser_id");
    private static readonly DataField<string> s_campaignId = new("campaign_id");
    private static readonly DataField<string> s_publisherId = new("publisher_id");
    private static readonly DataField<string> s_userId = new("user_id");
    private static readonly DataField<string> s_ipHash = new("ip_hash");
    private static readonly DataField<string> s_country = new("country");
    private static readonly DataField<string> s_device = new("device");
    private static readonly DataField<string> s_userAgent = new("user_agent");
    private static readonly DataField<long> s_timestampMs = new("timestamp_ms");
    private static readonly DataField<long> s_receivedMs = new("received_ms");
    private static readonly DataField<long> s_costMicros = new("cost_micros");
    private static readonly DataField<string> s_token = new("token");
    private static readonly DataField<int> s_signature = new("signature");
    private static readonly DataField<bool> s_signedRequired = new("signed_required");
    private static readonly DataField<string> s_verdict = new("verdict");
    private static readonly DataField<bool> s_late = new("late");
    private static readonly DataField<bool> s_erased = new("erased");
    private static readonly DataField<string> s_ruleVersion = new("rule_version");
    private static readonly DataField<long> s_erasedUserHash = new("erased_user_hash");

    // Columns added after the first files were written: a file without them reads as empty and 0.
    private static readonly ParquetSchema s_schema = new(
        s_partition, s_position, s_clickId, s_adId, s_advertiserId, s_campaignId, s_publisherId, s_userId, s_ipHash,
        s_country, s_device, s_userAgent, s_timestampMs, s_receivedMs, s_costMicros, s_token, s_signature,
        s_signedRequired, s_verdict, s_late, s_erased, s_ruleVersion, s_erasedUserHash);

    /// <summary>Writes the records to <paramref name="path"/> through a temporary file, fsynced, then renamed; the directory is fsynced.</summary>
    public static void WriteDurably(string path, IReadOnlyList<ArchiveRecord> records) => NativeFile.ReplaceDurably(path, Encode(records));

    public static byte[] Encode(IReadOnlyList<ArchiveRecord> records) => EncodeAsync(records).GetAwaiter().GetResult();

    public static IReadOnlyList<ArchiveRecord> Read(string path) => ReadAsync(path).GetAwaiter().GetResult();

    /// <summary>The log positions a file holds, in file order (only that column is read).</summary>
    public static long[] ReadPositions(string path) => ReadPositionsAsync(path).GetAwaiter().GetResult();

    private static async Task<long[]> ReadPositionsAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        await using ParquetReader reader = await ParquetReader.CreateAsync(stream);
        var positions = new List<long>();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using ParquetRowGroupReader group = reader.OpenRowGroupReader(g);
            var values = new long[checked((int)group.RowCount)];
            await group.ReadAsync<long>(s_position, values);
            positions.AddRange(values);
        }

        return positions.ToArray();
    }

    private static async Task<byte[]> EncodeAsync(IReadOnlyList<ArchiveRecord> records)
    {
        using var memory = new MemoryStream();
        await using (ParquetWriter writer = await ParquetWriter.CreateAsync(s_schema, memory))
        {
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            await group.WriteAsync<int>(s_partition, records.Select(r => r.Partition).ToArray());
            await group.WriteAsync<long>(s_position, records.Select(r => r.Position).ToArray());
            await group.WriteAsync(s_clickId, records.Select(r => r.Click.ClickId).ToArray());
            await group.WriteAsync(s_adId, records.Select(r => r.Click.AdId).ToArray());
            await group.WriteAsync(s_advertiserId, records.Select(r => r.Click.AdvertiserId).ToArray());
            await group.WriteAsync(s_campaignId, records.Select(r => r.Click.CampaignId).ToArray());
            await group.WriteAsync(s_publisherId, records.Select(r => r.Click.PublisherId).ToArray());
            await group.WriteAsync(s_userId, records.Select(r => r.Click.UserId).ToArray());
            await group.WriteAsync(s_ipHash, records.Select(r => r.Click.IpHash).ToArray());
            await group.WriteAsync(s_country, records.Select(r => r.Click.Country).ToArray());
            await group.WriteAsync(s_device, records.Select(r => DeviceNames.ToWire(r.Click.Device)).ToArray());
            await group.WriteAsync(s_userAgent, records.Select(r => r.Click.UserAgent).ToArray());
            await group.WriteAsync<long>(s_timestampMs, records.Select(r => r.Click.TimestampMs).ToArray());
            await group.WriteAsync<long>(s_receivedMs, records.Select(r => r.Click.ReceivedMs).ToArray());
            await group.WriteAsync<long>(s_costMicros, records.Select(r => r.Click.CostMicros).ToArray());
            await group.WriteAsync(s_token, records.Select(r => r.Click.Token).ToArray());
            await group.WriteAsync<int>(s_signature, records.Select(r => (int)r.Click.Signature).ToArray());
            await group.WriteAsync<bool>(s_signedRequired, records.Select(r => r.Click.SignedRequired).ToArray());
            await group.WriteAsync(s_verdict, records.Select(r => r.Outcome.ToWire()).ToArray());
            await group.WriteAsync<bool>(s_late, records.Select(r => r.Outcome.Late).ToArray());
            await group.WriteAsync<bool>(s_erased, records.Select(r => r.Erased).ToArray());
            await group.WriteAsync(s_ruleVersion, records.Select(r => r.Outcome.RuleVersion).ToArray());
            await group.WriteAsync<long>(s_erasedUserHash, records.Select(r => unchecked((long)r.ErasedUserHash)).ToArray());
        }

        return memory.ToArray();
    }

    private static async Task<IReadOnlyList<ArchiveRecord>> ReadAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        await using ParquetReader reader = await ParquetReader.CreateAsync(stream);
        var columns = reader.Schema.GetDataFields().Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var records = new List<ArchiveRecord>();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using ParquetRowGroupReader group = reader.OpenRowGroupReader(g);
            int rows = checked((int)group.RowCount);
            async Task<T[]> Column<T>(DataField<T> field) where T : struct
            {
                var values = new T[rows];
                await group.ReadAsync<T>(field, values);
                return values;
            }

            async Task<string[]> Text(DataField<string> field)
            {
                var values = new string[rows];
                await group.ReadAsync(field, values);
                return values;
            }

            int[] partition = await Column(s_partition);
            long[] position = await Column(s_position);
            string[] clickId = await Text(s_clickId), adId = await Text(s_adId), advertiserId = await Text(s_advertiserId);
            string[] campaignId = await Text(s_campaignId), publisherId = await Text(s_publisherId), userId = await Text(s_userId);
            string[] ipHash = await Text(s_ipHash), country = await Text(s_country), device = await Text(s_device), userAgent = await Text(s_userAgent);
            long[] timestampMs = await Column(s_timestampMs), receivedMs = await Column(s_receivedMs), costMicros = await Column(s_costMicros);
            string[] token = await Text(s_token);
            int[] signature = await Column(s_signature);
            bool[] signedRequired = await Column(s_signedRequired);
            string[] verdict = await Text(s_verdict);
            bool[] late = await Column(s_late);
            bool[] erased = await Column(s_erased);
            string[] ruleVersion = columns.Contains(s_ruleVersion.Name) ? await Text(s_ruleVersion) : new string[rows];
            long[] erasedUserHash = columns.Contains(s_erasedUserHash.Name) ? await Column(s_erasedUserHash) : new long[rows];
            for (int i = 0; i < rows; i++)
            {
                if (!ClickOutcome.TryParse(verdict[i], late[i], ruleVersion[i] ?? "", out ClickOutcome outcome) || !DeviceNames.TryParse(device[i], out Device parsedDevice) && device[i].Length > 0)
                {
                    throw new InvalidDataException($"{path}: row {i} has the verdict '{verdict[i]}' and device '{device[i]}', which this version does not know.");
                }

                var click = new Click
                {
                    ClickId = clickId[i],
                    AdId = adId[i],
                    AdvertiserId = advertiserId[i],
                    CampaignId = campaignId[i],
                    PublisherId = publisherId[i],
                    UserId = userId[i],
                    IpHash = ipHash[i],
                    Country = country[i],
                    Device = device[i].Length == 0 ? Device.Unknown : parsedDevice,
                    UserAgent = userAgent[i],
                    TimestampMs = timestampMs[i],
                    ReceivedMs = receivedMs[i],
                    CostMicros = costMicros[i],
                    Token = token[i],
                    Signature = (ClickSignature)signature[i],
                    SignedRequired = signedRequired[i],
                };
                records.Add(new ArchiveRecord(partition[i], position[i], click, outcome, erased[i], unchecked((ulong)erasedUserHash[i])));
            }
        }

        return records;
    }
}

using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Tollbooth.Core;

namespace Tollbooth.Ingest.Parsing;

/// <summary>Writing an accepted click's log record, byte for byte what ClickCodec.Encode gives after ClickSigning.Judge.</summary>
public sealed partial class ClickRecordParser
{
    private const int StringCount = 10;

    private void Write(ref Values values, Request request)
    {
        if (values.ClickId.IsEmpty)
        {
            values.ClickId = DeriveClickId(ref values, request);
        }

        int partition = Partitioner.PartitionOfUtf8(values.AdId, request.PartitionCount);
        if (!values.Token.IsEmpty)
        {
            WriteJudged(ref values, request, partition);
            return;
        }

        Span<char> advertiserId = stackalloc char[IdLengthMax];
        bool signedRequired = signing.RequiresSigned(advertiserId[..Encoding.UTF8.GetChars(values.AdvertiserId, advertiserId)]);
        int size = ClickCodec.FixedSize + (2 * StringCount)
            + values.ClickId.Length + values.AdId.Length + values.AdvertiserId.Length + values.CampaignId.Length
            + values.PublisherId.Length + values.UserId.Length + values.IpHash.Length + values.Country.Length
            + values.UserAgent.Length;
        Span<byte> record = request.Records.Reserve(partition, size);
        record[0] = ClickCodec.Version;
        BinaryPrimitives.WriteInt64LittleEndian(record[1..], values.TimestampMs);
        BinaryPrimitives.WriteInt64LittleEndian(record[9..], request.NowMs);
        BinaryPrimitives.WriteInt64LittleEndian(record[17..], values.CostMicros);
        record[25] = (byte)values.Device;
        record[26] = signedRequired ? ClickCodec.SignedRequiredFlag : (byte)ClickSignature.Unsigned;
        int offset = ClickCodec.FixedSize;
        offset = Put(record, offset, values.ClickId);
        offset = Put(record, offset, values.AdId);
        offset = Put(record, offset, values.AdvertiserId);
        offset = Put(record, offset, values.CampaignId);
        offset = Put(record, offset, values.PublisherId);
        offset = Put(record, offset, values.UserId);
        offset = Put(record, offset, values.IpHash);
        offset = Put(record, offset, values.Country);
        offset = Put(record, offset, values.UserAgent);
        offset = Put(record, offset, values.Token);
        Debug.Assert(offset == size, "The record was sized from the same fields it holds.");
        request.Records.Commit(partition, size);
    }

    // A click with a token: built as a Click so that ClickSigning judges it (and may give it the token's click id) itself.
    private void WriteJudged(ref Values values, Request request, int partition)
    {
        var click = new Click
        {
            ClickId = Encoding.UTF8.GetString(values.ClickId),
            AdId = Encoding.UTF8.GetString(values.AdId),
            AdvertiserId = Encoding.UTF8.GetString(values.AdvertiserId),
            CampaignId = Encoding.UTF8.GetString(values.CampaignId),
            PublisherId = values.PublisherGiven ? Encoding.UTF8.GetString(values.PublisherId) : request.KeyPublisherId ?? "",
            UserId = Encoding.UTF8.GetString(values.UserId),
            IpHash = Encoding.UTF8.GetString(values.IpHash),
            Country = Encoding.UTF8.GetString(values.Country),
            Device = values.Device,
            UserAgent = Encoding.UTF8.GetString(values.UserAgent),
            TimestampMs = values.TimestampMs,
            ReceivedMs = request.NowMs,
            CostMicros = values.CostMicros,
            Token = Encoding.UTF8.GetString(values.Token),
        };
        signing.Judge(click);
        byte[] record = ClickCodec.Encode(click);
        record.CopyTo(request.Records.Reserve(partition, record.Length));
        request.Records.Commit(partition, record.Length);
    }

    /// <summary>
    /// ClickFields.DeriveClickId over bytes: "d-" and the lower-case hex XxHash128 of ad_id, user_id, the canonical ip
    /// and the timestamp in decimal, 0-separated, all UTF-8.
    /// </summary>
    private static ReadOnlySpan<byte> DeriveClickId(scoped ref Values values, Request request)
    {
        Span<byte> material = request.Scratch.AsSpan(ScratchLayout.Material, ScratchLayout.MaterialBytes);
        int length = 0;
        length = Append(material, length, values.AdId);
        length = Append(material, length, values.UserId);
        length = Append(material, length, values.IpText);
        bool formatted = values.TimestampMs.TryFormat(material[length..], out int digits, default, CultureInfo.InvariantCulture);
        Debug.Assert(formatted, "The material has room for the longest timestamp.");
        Span<byte> hash = stackalloc byte[16];
        XxHash128.Hash(material[..(length + digits)], hash);
        Span<byte> id = request.Scratch.AsSpan(ScratchLayout.DerivedId, ScratchLayout.DerivedIdBytes);
        id[0] = (byte)'d';
        id[1] = (byte)'-';
        for (int i = 0; i < hash.Length; i++)
        {
            id[2 + (2 * i)] = (byte)"0123456789abcdef"[hash[i] >> 4];
            id[3 + (2 * i)] = (byte)"0123456789abcdef"[hash[i] & 0xF];
        }

        return id;
    }

    private static int Append(Span<byte> material, int length, ReadOnlySpan<byte> value)
    {
        value.CopyTo(material[length..]);
        material[length + value.Length] = 0;
        return length + value.Length + 1;
    }

    private static int Put(Span<byte> record, int offset, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(record[offset..], (ushort)value.Length);
        value.CopyTo(record[(offset + 2)..]);
        return offset + 2 + value.Length;
    }
}

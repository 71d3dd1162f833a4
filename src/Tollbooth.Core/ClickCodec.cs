using System.Buffers.Binary;
using System.Text;

namespace Tollbooth.Core;

/// <summary>
/// The binary form of a <see cref="Click"/> in a log record. Layout (little-endian):
/// version (1) | timestamp_ms (8) | received_ms (8) | cost_micros (8) | device (1) | flags (1: bits 0-1 the
/// <see cref="ClickSignature"/>, bit 2 <see cref="Click.SignedRequired"/>) | then ten strings, each a u16 byte length and UTF-8 bytes: click_id, ad_id, advertiser_id,
/// campaign_id, publisher_id, user_id, ip_hash, country, user_agent, token.
/// </summary>
public static class ClickCodec
{
    public const byte Version = 2;
    public const int FixedSize = 1 + 8 + 8 + 8 + 1 + 1;

    // Version 1 records (before ingest checked tokens) have no flags byte and decode as unsigned.
    private const int FixedSizeVersion1 = FixedSize - 1;
    internal const byte SignatureMask = 0b011;
    /// <summary>The flags byte's bit for <see cref="Click.SignedRequired"/> (ingest's record parser writes records too).</summary>
    public const byte SignedRequiredFlag = 0b100;
    private const int StringCount = 10;

    public static byte[] Encode(Click click)
    {
        int size = FixedSize + (2 * StringCount)
            + Utf8(click.ClickId) + Utf8(click.AdId) + Utf8(click.AdvertiserId) + Utf8(click.CampaignId)
            + Utf8(click.PublisherId) + Utf8(click.UserId) + Utf8(click.IpHash) + Utf8(click.Country)
            + Utf8(click.UserAgent) + Utf8(click.Token);
        var bytes = new byte[size];
        Span<byte> span = bytes;
        span[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(span[1..], click.TimestampMs);
        BinaryPrimitives.WriteInt64LittleEndian(span[9..], click.ReceivedMs);
        BinaryPrimitives.WriteInt64LittleEndian(span[17..], click.CostMicros);
        span[25] = (byte)click.Device;
        span[26] = (byte)((byte)click.Signature | (click.SignedRequired ? SignedRequiredFlag : 0));
        int offset = FixedSize;
        offset = WriteString(span, offset, click.ClickId);
        offset = WriteString(span, offset, click.AdId);
        offset = WriteString(span, offset, click.AdvertiserId);
        offset = WriteString(span, offset, click.CampaignId);
        offset = WriteString(span, offset, click.PublisherId);
        offset = WriteString(span, offset, click.UserId);
        offset = WriteString(span, offset, click.IpHash);
        offset = WriteString(span, offset, click.Country);
        offset = WriteString(span, offset, click.UserAgent);
        offset = WriteString(span, offset, click.Token);
        if (offset != size)
        {
            throw new InvalidOperationException($"Encoded click is {offset} bytes but {size} were reserved.");
        }

        return bytes;
    }

    /// <summary>
    /// The click of a record. With <paramref name="ids"/>, the fields clicks repeat (ad, advertiser, campaign,
    /// publisher, country, user agent) come from that pool instead of new strings: equal values, fewer allocations.
    /// </summary>
    public static Click Decode(ReadOnlySpan<byte> record, IdPool? ids = null)
    {
        int offset = record.Length > 0 && record[0] == 1 ? FixedSizeVersion1 : FixedSize;
        if (record.Length < offset || record[0] is not (1 or Version))
        {
            throw new FormatException($"A log record of {record.Length} bytes is not a version 1 or {Version} click.");
        }

        byte flags = offset == FixedSize ? record[26] : (byte)0;
        if ((flags & SignatureMask) > (byte)ClickSignature.Bad || flags > (SignatureMask | SignedRequiredFlag))
        {
            throw new FormatException($"A click record has unknown flags {flags}.");
        }

        return new Click
        {
            TimestampMs = BinaryPrimitives.ReadInt64LittleEndian(record[1..]),
            ReceivedMs = BinaryPrimitives.ReadInt64LittleEndian(record[9..]),
            CostMicros = BinaryPrimitives.ReadInt64LittleEndian(record[17..]),
            Device = (Device)record[25],
            ClickId = ReadString(record, ref offset),
            AdId = ReadString(record, ref offset, ids),
            AdvertiserId = ReadString(record, ref offset, ids),
            CampaignId = ReadString(record, ref offset, ids),
            PublisherId = ReadString(record, ref offset, ids),
            UserId = ReadString(record, ref offset),
            IpHash = ReadString(record, ref offset),
            Country = ReadString(record, ref offset, ids),
            UserAgent = ReadString(record, ref offset, ids),
            Token = ReadString(record, ref offset),
            Signature = (ClickSignature)(flags & SignatureMask),
            SignedRequired = (flags & SignedRequiredFlag) != 0,
        };
    }

    private static int Utf8(string value)
    {
        int count = Encoding.UTF8.GetByteCount(value);
        if (count > ushort.MaxValue)
        {
            throw new ArgumentException($"A click field of {count} UTF-8 bytes is over the record limit of {ushort.MaxValue}.");
        }

        return count;
    }

    private static int WriteString(Span<byte> span, int offset, string value)
    {
        int written = Encoding.UTF8.GetBytes(value, span[(offset + 2)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(span[offset..], (ushort)written);
        return offset + 2 + written;
    }

    private static string ReadString(ReadOnlySpan<byte> record, ref int offset, IdPool? ids = null)
    {
        if (offset + 2 > record.Length)
        {
            throw new FormatException("A click record ends inside a field length.");
        }

        int length = BinaryPrimitives.ReadUInt16LittleEndian(record[offset..]);
        offset += 2;
        if (offset + length > record.Length)
        {
            throw new FormatException("A click record ends inside a field.");
        }

        ReadOnlySpan<byte> utf8 = record.Slice(offset, length);
        string value = ids is not null ? ids.Get(utf8) : length == 0 ? "" : Encoding.UTF8.GetString(utf8);
        offset += length;
        return value;
    }
}

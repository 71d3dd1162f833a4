using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Tollbooth.Core;

/// <summary>
/// A click read in place from its log record (<see cref="ClickCodec"/>'s layout): the fixed fields decoded, the
/// strings as spans of the record's UTF-8 bytes. The processors decide and count from it without a
/// <see cref="Click"/> or a string per field. Checks the record exactly as <see cref="ClickCodec.Decode"/> does.
/// </summary>
public readonly ref struct ClickView
{
    public ClickView(ReadOnlySpan<byte> record)
    {
        int offset = record.Length > 0 && record[0] == 1 ? ClickCodec.FixedSize - 1 : ClickCodec.FixedSize;
        if (record.Length < offset || record[0] is not (1 or ClickCodec.Version))
        {
            ThrowNotAClick(record.Length);
        }

        byte flags = offset == ClickCodec.FixedSize ? record[26] : (byte)0;
        if ((flags & ClickCodec.SignatureMask) > (byte)ClickSignature.Bad || flags > (ClickCodec.SignatureMask | ClickCodec.SignedRequiredFlag))
        {
            ThrowUnknownFlags(flags);
        }

        TimestampMs = BinaryPrimitives.ReadInt64LittleEndian(record[1..]);
        ReceivedMs = BinaryPrimitives.ReadInt64LittleEndian(record[9..]);
        CostMicros = BinaryPrimitives.ReadInt64LittleEndian(record[17..]);
        Device = (Device)record[25];
        Signature = (ClickSignature)(flags & ClickCodec.SignatureMask);
        SignedRequired = (flags & ClickCodec.SignedRequiredFlag) != 0;
        ClickId = Next(record, ref offset);
        AdId = Next(record, ref offset);
        AdvertiserId = Next(record, ref offset);
        CampaignId = Next(record, ref offset);
        PublisherId = Next(record, ref offset);
        UserId = Next(record, ref offset);
        IpHash = Next(record, ref offset);
        Country = Next(record, ref offset);
        UserAgent = Next(record, ref offset);
        Token = Next(record, ref offset);
    }

    public long TimestampMs { get; }

    public long ReceivedMs { get; }

    public long CostMicros { get; }

    public Device Device { get; }

    public ClickSignature Signature { get; }

    public bool SignedRequired { get; }

    public ReadOnlySpan<byte> ClickId { get; }

    public ReadOnlySpan<byte> AdId { get; }

    public ReadOnlySpan<byte> AdvertiserId { get; }

    public ReadOnlySpan<byte> CampaignId { get; }

    public ReadOnlySpan<byte> PublisherId { get; }

    public ReadOnlySpan<byte> UserId { get; }

    public ReadOnlySpan<byte> IpHash { get; }

    public ReadOnlySpan<byte> Country { get; }

    public ReadOnlySpan<byte> UserAgent { get; }

    public ReadOnlySpan<byte> Token { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> Next(ReadOnlySpan<byte> record, scoped ref int offset)
    {
        if (offset + 2 > record.Length)
        {
            ThrowTruncated("A click record ends inside a field length.");
        }

        int length = BinaryPrimitives.ReadUInt16LittleEndian(record[offset..]);
        offset += 2;
        if (offset + length > record.Length)
        {
            ThrowTruncated("A click record ends inside a field.");
        }

        ReadOnlySpan<byte> field = record.Slice(offset, length);
        offset += length;
        return field;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotAClick(int length) =>
        throw new FormatException($"A log record of {length} bytes is not a version 1 or {ClickCodec.Version} click.");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowUnknownFlags(byte flags) => throw new FormatException($"A click record has unknown flags {flags}.");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTruncated(string message) => throw new FormatException(message);
}

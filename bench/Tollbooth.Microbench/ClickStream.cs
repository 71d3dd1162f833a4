using System.Buffers.Binary;
using Tollbooth.Benchmarks;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Microbench;

/// <summary>
/// An endless, realistic stream of encoded click records (<see cref="Workload"/>: skewed ads, about 2% resent
/// duplicates, 1% bots, 5% late by up to 10 minutes) without an allocation per click: a ring of records encoded once,
/// handed out lap after lap. Before a record is handed out again its timestamp moves on by one lap's span of event
/// time and its click id carries the lap's number, so event time keeps advancing (windows close, rows are evicted)
/// and a click is a duplicate only where the workload made it one.
/// </summary>
public sealed class ClickStream
{
    /// <summary>The event-time rate of the stream: 20,000 clicks a minute (about 330 a second in one partition).</summary>
    public const int ClicksPerMinute = 20_000;

    /// <summary>Where the stream's event time starts: a fixed instant, so a run is the same every time.</summary>
    public const long StartMs = 1_767_225_600_000; // 2026-01-01T00:00Z

    private const int TimestampOffset = 1;
    private const int LapTagLength = 8;

    // The click id's bytes start after the fixed part and the id's u16 length (ClickCodec's layout).
    private const int LapTagOffset = ClickCodec.FixedSize + 2;

    private readonly byte[] _records;
    private readonly int[] _starts;
    private readonly int[] _lengths;
    private readonly long[] _timestamps;
    private readonly long _lapSpanMs;
    private long _lap;
    private int _next;

    /// <param name="count">Records in the ring; one lap is <c>count / ClicksPerMinute</c> minutes of event time.</param>
    public ClickStream(int count, int seed = 11)
    {
        var workload = new Workload(seed);
        var encoded = new byte[count][];
        _starts = new int[count];
        _lengths = new int[count];
        _timestamps = new long[count];
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            Click click = workload.Next(StartMs + (i * 60_000L / ClicksPerMinute));
            encoded[i] = WithLapTag(ClickCodec.Encode(click));
            _starts[i] = (int)total;
            _lengths[i] = encoded[i].Length;
            _timestamps[i] = click.TimestampMs;
            total += encoded[i].Length;
        }

        _records = new byte[total];
        for (int i = 0; i < count; i++)
        {
            encoded[i].CopyTo(_records, _starts[i]);
        }

        _lapSpanMs = count * 60_000L / ClicksPerMinute;
    }

    public int Count => _starts.Length;

    /// <summary>The bytes of all <see cref="Count"/> records back to back.</summary>
    public ReadOnlyMemory<byte> Records => _records;

    /// <summary>The next click of the stream: a record in the ring, moved on to the current lap. Valid until the ring comes round again.</summary>
    public ReadOnlySpan<byte> Next()
    {
        int i = _next;
        Span<byte> record = _records.AsSpan(_starts[i], _lengths[i]);
        BinaryPrimitives.WriteInt64LittleEndian(record[TimestampOffset..], _timestamps[i] + (_lap * _lapSpanMs));
        WriteLapTag(record.Slice(LapTagOffset, LapTagLength), _lap);
        if (++_next == _starts.Length)
        {
            _next = 0;
            _lap++;
        }

        return record;
    }

    /// <summary>
    /// <paramref name="count"/> records of the ring from <paramref name="first"/> as one partition's batch for
    /// <see cref="IClickLog.AppendRecords"/> (the log does not look inside them, so no lap is applied).
    /// </summary>
    public PartitionRecords Batch(int partition, int first, int count)
    {
        int start = _starts[first];
        int end = first + count == _starts.Length ? _records.Length : _starts[first + count];
        return new PartitionRecords(partition, _records.AsMemory(start, end - start), _lengths.AsMemory(first, count));
    }

    // The record with room for the lap before its click id: "{lap:x8}-" then the workload's id.
    private static byte[] WithLapTag(byte[] record)
    {
        const int Separator = 1;
        int idLength = BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(ClickCodec.FixedSize));
        var tagged = new byte[record.Length + LapTagLength + Separator];
        record.AsSpan(0, ClickCodec.FixedSize).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16LittleEndian(tagged.AsSpan(ClickCodec.FixedSize), (ushort)(idLength + LapTagLength + Separator));
        tagged[LapTagOffset + LapTagLength] = (byte)'-';
        record.AsSpan(LapTagOffset).CopyTo(tagged.AsSpan(LapTagOffset + LapTagLength + Separator));
        WriteLapTag(tagged.AsSpan(LapTagOffset, LapTagLength), 0);
        return tagged;
    }

    // The lap as eight hexadecimal digits: ASCII, as click ids are.
    private static void WriteLapTag(Span<byte> tag, long lap)
    {
        for (int digit = LapTagLength - 1; digit >= 0; digit--)
        {
            tag[digit] = (byte)"0123456789abcdef"[(int)(lap & 0xF)];
            lap >>= 4;
        }
    }
}

using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Tollbooth.Core;
using Tollbooth.Ingest.Tokens;

namespace Tollbooth.Ingest.Parsing;

/// <summary>
/// Reads a click request body (one JSON object, a JSON array of objects, or NDJSON) straight into log records, with
/// exactly the outcome <see cref="ClickParser"/> gives (the same body errors, the same rejections in the same order)
/// and, for each accepted click, exactly the bytes <see cref="ClickCodec.Encode"/> writes for that parser's click after
/// <see cref="ClickSigning.Judge"/>. It reads with Utf8JsonReader over the request's own buffer and checks every field
/// as UTF-8, so a click costs no <see cref="Click"/>, no string and no array: the 36,000 clicks a second that a
/// document, strings and an object per click allowed were far below ingest's target. A click with a token is the one
/// exception: it is built as a <see cref="Click"/> and judged by <see cref="ClickSigning"/> itself, since checking a
/// signature costs far more than its strings. Never throws for any input.
/// </summary>
public sealed partial class ClickRecordParser(IngestLimits limits, IClock clock, IpPseudonymizer ips, ClickSigning signing)
{
    /// <summary>The most UTF-16 characters an ad or advertiser id may have.</summary>
    internal const int IdLengthMax = 64;

    private const int NotFound = -1;
    private const int BadName = -2;

    // JsonDocument.Parse's reader options for the old parser's MaxDepth: the same errors at the same positions.
    private static readonly JsonReaderOptions s_readerOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Parses <paramref name="body"/> for a log of <paramref name="partitionCount"/> partitions. The records are valid
    /// until the result is disposed.
    /// </summary>
    public ClickRecords Parse(ReadOnlySpan<byte> body, string? contentType, string? keyPublisherId, int partitionCount)
    {
        if (body.Length > limits.BodyBytesMax)
        {
            return ClickRecords.Failed(413, "body_too_large", $"The body is over {limits.BodyBytesMax} bytes: split the clicks into smaller requests.");
        }

        string media = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        bool ndjson = media is "application/x-ndjson" or "application/ndjson" or "application/jsonlines" or "application/x-jsonlines";
        if (media != "application/json" && !ndjson)
        {
            return ClickRecords.Failed(400, "unsupported_media_type", "Send the clicks with Content-Type application/json (an object or an array) or application/x-ndjson (one object per line).");
        }

        if (IsBlank(body))
        {
            return ClickRecords.Failed(400, "empty_body", "The body is empty: send one click object, an array of them, or NDJSON lines.");
        }

        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return ClickRecords.Failed(400, "invalid_utf8", "The body is not valid UTF-8: send the clicks as UTF-8 encoded JSON.");
        }

        var request = new Request(new ClickRecords(partitionCount), partitionCount, clock.UtcNowMs, keyPublisherId, ips);
        try
        {
            return ndjson ? ParseLines(body, request) : ParseJson(body, request);
        }
        finally
        {
            request.ReturnBuffers();
        }
    }

    private ClickRecords ParseJson(ReadOnlySpan<byte> body, Request request)
    {
        var reader = new Utf8JsonReader(body, s_readerOptions);
        int items;
        try
        {
            items = ReadDocument(ref reader, body, request);
        }
        catch (JsonException exception)
        {
            return request.Records.Fail(400, "invalid_json", $"The body is not valid JSON (near byte {exception.BytePositionInLine ?? 0} of line {(exception.LineNumber ?? 0) + 1}): send one click object or an array of them.");
        }

        if (items < 0)
        {
            return request.Records.Fail(400, "invalid_body", "The body must be a JSON object or an array of objects.");
        }

        return items > limits.ClicksPerRequestMax ? request.Records.Fail(413, "too_many_clicks", TooManyMessage()) : request.Records;
    }

    // The number of items of a JSON body, or -1 when its root is neither an object nor an array. Items are taken as
    // they are read; a JSON error later in the body throws, and the caller drops them all (JsonDocument.Parse came first).
    private int ReadDocument(ref Utf8JsonReader reader, ReadOnlySpan<byte> body, Request request)
    {
        Next(ref reader);
        int items = -1;
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            Collect(ref reader, body, request);
            EndOfDocument(ref reader);
            Take(body, request, 0);
            return 1;
        }

        if (reader.TokenType == JsonTokenType.StartArray)
        {
            items = 0;
            for (Next(ref reader); reader.TokenType != JsonTokenType.EndArray; Next(ref reader))
            {
                // Past the limit the body is refused whole, but it must still be read to the end: invalid JSON wins.
                bool judged = items < limits.ClicksPerRequestMax;
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    Collect(ref reader, body, request);
                    if (judged)
                    {
                        Take(body, request, items);
                    }
                }
                else
                {
                    reader.Skip();
                    if (judged)
                    {
                        NotAnObject(request, items);
                    }
                }

                items++;
            }
        }
        else
        {
            reader.Skip();
        }

        EndOfDocument(ref reader);
        return items;
    }

    private ClickRecords ParseLines(ReadOnlySpan<byte> body, Request request)
    {
        int lines = 0;
        for (int start = 0, number = 0; NextLine(body, ref start, ref number, out _, out _);)
        {
            lines++;
        }

        if (lines > limits.ClicksPerRequestMax)
        {
            return request.Records.Fail(413, "too_many_clicks", TooManyMessage());
        }

        for (int start = 0, number = 0; NextLine(body, ref start, ref number, out ReadOnlySpan<byte> line, out int lineNumber);)
        {
            var reader = new Utf8JsonReader(line, s_readerOptions);
            bool isObject;
            try
            {
                Next(ref reader);
                isObject = reader.TokenType == JsonTokenType.StartObject;
                if (isObject)
                {
                    Collect(ref reader, line, request);
                }
                else
                {
                    reader.Skip();
                }

                EndOfDocument(ref reader);
            }
            catch (JsonException)
            {
                request.Records.Reject(lineNumber, "This line is not valid JSON: send one click object per line.", "invalid_json");
                continue;
            }

            if (isObject)
            {
                Take(line, request, lineNumber);
            }
            else
            {
                NotAnObject(request, lineNumber);
            }
        }

        return request.Records;
    }

    // The next line that is not blank, numbered from 0 over all lines (blank ones too), as the old parser numbers them.
    private static bool NextLine(ReadOnlySpan<byte> body, ref int start, ref int number, out ReadOnlySpan<byte> line, out int lineNumber)
    {
        while (start <= body.Length)
        {
            int end = body[start..].IndexOf((byte)'\n');
            int length = end < 0 ? body.Length - start : end;
            line = body.Slice(start, length);
            lineNumber = number;
            start += length + 1;
            number++;
            if (!IsBlank(line))
            {
                return true;
            }
        }

        line = default;
        lineNumber = -1;
        return false;
    }

    // Reads an object's properties into the request's table: where each name and value lies, and for plain names which
    // click field they are, so that a click without escaped names finds its fields without comparing names again.
    private static void Collect(ref Utf8JsonReader reader, ReadOnlySpan<byte> document, Request request)
    {
        request.StartObject();
        for (Next(ref reader); reader.TokenType != JsonTokenType.EndObject; Next(ref reader))
        {
            Debug.Assert(reader.TokenType == JsonTokenType.PropertyName, "An object holds property names and their values.");
            var property = default(Property);
            property.NameStart = Locate(document, reader.ValueSpan);
            property.NameLength = reader.ValueSpan.Length;
            property.NameEscaped = reader.ValueIsEscaped;
            property.Field = property.NameEscaped ? Fields.None : Fields.Of(reader.ValueSpan);
            Next(ref reader);
            property.Kind = reader.TokenType;
            if (property.Kind is JsonTokenType.String or JsonTokenType.Number)
            {
                property.ValueStart = Locate(document, reader.ValueSpan);
                property.ValueLength = reader.ValueSpan.Length;
                property.ValueEscaped = reader.ValueIsEscaped;
            }
            else
            {
                reader.Skip();
            }

            request.Add(property);
        }
    }

    private static int Locate(ReadOnlySpan<byte> document, ReadOnlySpan<byte> value) =>
        document.Overlaps(value, out int offset) ? offset : 0;

    // Utf8JsonReader over a whole (final) buffer throws for a document that ends early, so Read is never false here.
    private static void Next(ref Utf8JsonReader reader)
    {
        bool read = reader.Read();
        Debug.Assert(read, "A final buffer that ends inside a JSON value throws instead.");
    }

    // After the root value only whitespace may follow; anything else throws, as it does in JsonDocument.Parse.
    private static void EndOfDocument(ref Utf8JsonReader reader)
    {
        bool more = reader.Read();
        Debug.Assert(!more, "A second root value throws instead.");
    }

    private static void NotAnObject(Request request, int index) =>
        request.Records.Reject(index, "This item is not a JSON object: send each click as an object with at least ad_id and advertiser_id.", "not_an_object");

    private string TooManyMessage() => $"The request holds more than {limits.ClicksPerRequestMax} clicks: split it into smaller requests.";

    private static bool IsBlank(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept(" \t\r\n"u8) < 0;

    /// <summary>
    /// Where <c>JsonElement.TryGetProperty</c> would find <paramref name="field"/> in the current object: the index of the
    /// property, <see cref="NotFound"/>, or <see cref="BadName"/> where it would throw. Like JsonDocument it looks from
    /// the last property back (a repeated name takes its last value), and it unescapes an escaped name only when the
    /// escaped text is longer than the name sought and agrees with it up to the first backslash: only then can a lone
    /// surrogate escape in a name make the lookup throw, and then only for the names that pass that test.
    /// </summary>
    private static int Find(ReadOnlySpan<byte> document, Request request, int field)
    {
        if (!request.AnyEscapedName)
        {
            return request.LastOf(field);
        }

        ReadOnlySpan<byte> name = Fields.NameOf(field);
        ReadOnlySpan<Property> properties = request.Properties;
        Span<byte> unescaped = stackalloc byte[32];
        for (int i = properties.Length - 1; i >= 0; i--)
        {
            ReadOnlySpan<byte> raw = document.Slice(properties[i].NameStart, properties[i].NameLength);
            if (!properties[i].NameEscaped)
            {
                if (raw.SequenceEqual(name))
                {
                    return i;
                }

                continue;
            }

            int backslash = raw.IndexOf((byte)'\\');
            if (raw.Length <= name.Length || name.Length <= backslash || !raw[..backslash].SequenceEqual(name[..backslash]))
            {
                continue;
            }

            UnescapeResult result = JsonEscapes.Unescape(raw[backslash..], unescaped, out int written);
            if (result == UnescapeResult.LoneSurrogate)
            {
                return BadName;
            }

            if (result == UnescapeResult.Done && unescaped[..written].SequenceEqual(name[backslash..]))
            {
                return i;
            }
        }

        return NotFound;
    }

    /// <summary>Where one property of the current object lies in its document.</summary>
    private struct Property
    {
        public int NameStart;
        public int NameLength;
        public bool NameEscaped;
        public int Field;
        public JsonTokenType Kind;
        public int ValueStart;
        public int ValueLength;
        public bool ValueEscaped;
    }

    /// <summary>One request's working state: its result, the current object's properties and pooled scratch space.</summary>
    private sealed class Request(ClickRecords records, int partitionCount, long nowMs, string? keyPublisherId, IpPseudonymizer ips)
    {
        private readonly int[] _lastOf = new int[Fields.Count];
        private Property[] _properties = ArrayPool<Property>.Shared.Rent(32);
        private int _count;
        private IpHasher? _ipHasher;

        public ClickRecords Records => records;

        public int PartitionCount => partitionCount;

        public long NowMs => nowMs;

        public string? KeyPublisherId => keyPublisherId;

        /// <summary>The key's publisher as the record writes it (Encoding.UTF8, as ClickCodec does).</summary>
        public byte[] KeyPublisherUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(keyPublisherId ?? "");

        /// <summary>Unescaped values and the derived fields of the current click, laid out as <see cref="ScratchLayout"/> says.</summary>
        public byte[] Scratch { get; } = ArrayPool<byte>.Shared.Rent(ScratchLayout.Bytes);

        public bool AnyEscapedName { get; private set; }

        /// <summary>The request's IP hasher, made at its first address: one HMAC key setup per request, not per click.</summary>
        public IpHasher IpHasher => _ipHasher ??= ips.CreateHasher();

        public ReadOnlySpan<Property> Properties => _properties.AsSpan(0, _count);

        public int LastOf(int field) => _lastOf[field];

        public void StartObject()
        {
            _count = 0;
            AnyEscapedName = false;
            Array.Fill(_lastOf, NotFound);
        }

        public void Add(in Property property)
        {
            if (_count == _properties.Length)
            {
                Property[] larger = ArrayPool<Property>.Shared.Rent(_count * 2);
                _properties.AsSpan(0, _count).CopyTo(larger);
                ArrayPool<Property>.Shared.Return(_properties);
                _properties = larger;
            }

            AnyEscapedName |= property.NameEscaped;
            if (property.Field != Fields.None)
            {
                _lastOf[property.Field] = _count;
            }

            _properties[_count++] = property;
        }

        public void ReturnBuffers()
        {
            ArrayPool<Property>.Shared.Return(_properties);
            ArrayPool<byte>.Shared.Return(Scratch);
            _ipHasher?.Dispose();
        }
    }
}

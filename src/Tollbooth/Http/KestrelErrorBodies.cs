using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Tollbooth.Http;

/// <summary>
/// Kestrel answers a request it cannot parse (a NUL byte in the path, a malformed request line or header, headers
/// that arrive too slowly or are too large) itself, before any middleware runs, with an empty body; ASP.NET Core
/// offers no hook for that answer. This connection middleware finds such an answer in what Kestrel writes to the
/// connection (an error status line, <c>Content-Length: 0</c>, <c>Connection: close</c> and the end of the headers,
/// in one write, which nothing the application answers looks like: its errors all carry a body) and gives it the
/// API's JSON error body with a stable code, and counts it: http_requests_received_total never sees these requests.
/// </summary>
public static class KestrelErrorBodies
{
    private static readonly byte[] s_headersEnd = "\r\n\r\n"u8.ToArray();
    private static readonly byte[] s_emptyLength = "\r\nContent-Length: 0\r\n"u8.ToArray();
    private static readonly byte[] s_close = "\r\nConnection: close\r\n"u8.ToArray();

    /// <summary>Rewrites Kestrel's own error answers on every connection of <paramref name="listen"/>; <paramref name="refused"/> gets each one's code.</summary>
    public static void Apply(ListenOptions listen, Action<string> refused) =>
        listen.Use(next => connection =>
        {
            connection.Transport = new RewritingPipe(connection.Transport, refused);
            return next(connection);
        });

    /// <summary>The stable code and sentence for a status Kestrel answers by itself.</summary>
    public static (string Code, string Error) Describe(int status) => status switch
    {
        400 => ("malformed_request", "The request is not well-formed HTTP/1.1 (its request line, a header, or its path, such as a NUL byte in it): fix how the client writes it."),
        408 => ("request_too_slow", "The request's headers arrived too slowly and it was cut off: send each request whole, at full speed."),
        411 => ("length_required", "This request needs a Content-Length or chunked body: send one."),
        413 => ("body_too_large", "The request body is too large: split it into smaller requests."),
        414 => ("uri_too_long", "The request's path and query are too long: send fewer or shorter parameters, or save them as a filter (POST /v1/filters)."),
        431 => ("headers_too_large", "The request's headers are too large: send fewer or smaller headers."),
        505 => ("http_version_not_supported", "This server speaks HTTP/1.1: send the request as HTTP/1.1."),
        _ => ("http_error", "The request could not be served as sent."),
    };

    /// <summary>Kestrel's empty error answer with the JSON body added, or null when <paramref name="written"/> is not one.</summary>
    public static (byte[] Answer, string Code)? Rewrite(ReadOnlySpan<byte> written)
    {
        // "HTTP/1.1 400 Bad Request\r\n...": an error status, and the whole header block and nothing after it.
        if (written.Length < 16 || !written.StartsWith("HTTP/1."u8) || written[8] != (byte)' '
            || written[9] is not ((byte)'4' or (byte)'5') || !char.IsAsciiDigit((char)written[10]) || !char.IsAsciiDigit((char)written[11])
            || written.IndexOf(s_headersEnd) != written.Length - s_headersEnd.Length
            || written.IndexOf(s_close) < 0)
        {
            return null;
        }

        int emptyLength = written.IndexOf(s_emptyLength);
        if (emptyLength < 0)
        {
            return null;
        }

        int status = ((written[9] - '0') * 100) + ((written[10] - '0') * 10) + (written[11] - '0');
        (string code, string error) = Describe(status);
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new ApiError(error, code), JsonDefaults.Options);
        var answer = new ArrayBufferWriter<byte>(written.Length + body.Length + 64);
        answer.Write(written[..emptyLength]);
        answer.Write(Encoding.ASCII.GetBytes($"\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {body.Length}\r\n"));
        answer.Write(written[(emptyLength + s_emptyLength.Length)..]);
        answer.Write(body);
        return (answer.WrittenSpan.ToArray(), code);
    }

    private sealed class RewritingPipe(IDuplexPipe inner, Action<string> refused) : IDuplexPipe
    {
        public PipeReader Input { get; } = inner.Input;

        public PipeWriter Output { get; } = new RewritingWriter(inner.Output, refused);
    }

    /// <summary>Passes every write through, except one that is a whole empty error answer of Kestrel's.</summary>
    private sealed class RewritingWriter(PipeWriter inner, Action<string> refused) : PipeWriter
    {
        private Memory<byte> _memory;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _memory = inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override void Advance(int bytes)
        {
            if (bytes > 0 && bytes <= _memory.Length && Rewrite(_memory.Span[..bytes]) is ({ } answer, string code))
            {
                // Nothing of the empty answer was advanced yet: the full one is written in its place.
                _memory = default;
                inner.Write(answer);
                refused(code);
                return;
            }

            _memory = default;
            inner.Advance(bytes);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
    }
}

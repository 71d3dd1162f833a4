using System.Text.Json;

namespace Tollbooth.Http;

/// <summary>A 200 JSON answer written field by field, so the field order is the contract's and nothing is reflected.</summary>
public sealed class JsonBody(Action<Utf8JsonWriter> write, int statusCode = 200) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = statusCode;
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter);
        write(writer);
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}

namespace Tollbooth.Benchmarks.Naive;

/// <summary>
/// The ceiling: a bare Kestrel endpoint in the benchmark process that reads the whole request body and answers 202 with
/// the same JSON shape as Tollbooth, with nothing stored. Nothing on this machine answers HTTP faster than this.
/// </summary>
public sealed class BareKestrel : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BareKestrel(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public static async Task<BareKestrel> StartAsync(int port)
    {
        string url = $"http://127.0.0.1:{port}";
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        app.MapPost("/v1/clicks", async (HttpContext context) =>
        {
            byte[] buffer = new byte[16_384];
            long length = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                length += read;
            }

            return Results.Json(new { accepted = length > 0 ? 1 : 0, rejected = Array.Empty<object>() }, statusCode: 202);
        });
        await app.StartAsync();
        return new BareKestrel(app, url);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

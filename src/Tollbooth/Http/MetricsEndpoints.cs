using Tollbooth.Core;
using Tollbooth.Metrics;

namespace Tollbooth.Http;

/// <summary>
/// GET /metrics: Prometheus text format. Like every path but /health/* and the tracking redirect it needs a key
/// (API.md), an admin one, as for /v1/status; Prometheus sends it with <c>authorization: {credentials: KEY}</c>.
/// </summary>
public static class MetricsEndpoints
{
    private const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static void Map(WebApplication app)
    {
        app.MapGet("/metrics", Scrape)
            .Doc("Prometheus metrics in text format.", "admin", [200, 401, 403]);
    }

    private static IResult Scrape(HttpContext context, KeyRing keys, TollboothMetrics metrics)
    {
        (ApiKey? _, IResult? denied) = Caller.Require(context, keys);
        return denied ?? new ScrapeResult(metrics);
    }

    private sealed class ScrapeResult(TollboothMetrics metrics) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = 200;
            httpContext.Response.ContentType = ContentType;
            return metrics.Registry.CollectAndExportAsTextAsync(httpContext.Response.Body, httpContext.RequestAborted);
        }
    }
}

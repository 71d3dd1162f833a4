namespace Tollbooth.Http;

/// <summary>
/// Whatever goes wrong, the client gets the API's error shape: unknown paths and methods answer
/// JSON 404/405, a body that cannot be read 400 (408 <c>body_too_slow</c> when it trickled), and an unexpected
/// exception 500 with no detail (the detail goes to the log). Kestrel's own refusals, before the application
/// sees a request, get theirs from <see cref="KestrelErrorBodies"/>.
/// </summary>
public static class ErrorHandling
{
    /// <summary>The code of a 408 for a request body slower than Limits:DataBytesPerSecondMin after its grace.</summary>
    public const string SlowBodyCode = "body_too_slow";

    /// <summary>
    /// Placed inside the HTTP metrics middleware, so what it answers (a 408 for a slow body, a 500) is what
    /// http_requests_received_total counts, not the 200 a response holds before an exception is turned into one.
    /// </summary>
    public static void Use(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException exception) when (!context.Response.HasStarted)
            {
                context.Response.Clear();
                (string code, string message) = exception.StatusCode == StatusCodes.Status408RequestTimeout
                    ? (SlowBodyCode, "The request body arrived too slowly and was cut off: send it at full speed, or in smaller requests.")
                    : ("bad_request", "The request could not be read: check its headers and body.");
                if (IsClickRoute(context))
                {
                    // Refused whole like any other click request it could not take (tollbooth_click_requests_refused_total).
                    context.RequestServices.GetService<Tollbooth.Ingest.IngestService>()?.Counters.CountRefused(code);
                }

                await ApiError.Result(exception.StatusCode, code, message).ExecuteAsync(context);
            }
            catch (Exception exception) when (!context.Response.HasStarted && exception is not OperationCanceledException)
            {
                app.Logger.LogError(exception, "Unhandled error on {Path}", context.Request.Path);
                context.Response.Clear();
                await ApiError.Result(500, "internal_error", "Tollbooth failed to answer this request: retry, and tell the operator if it persists.").ExecuteAsync(context);
            }
        });
        app.UseStatusCodePages(async statusContext =>
        {
            HttpContext context = statusContext.HttpContext;
            if (context.Response.ContentLength is null && context.Response.ContentType is null)
            {
                (string code, string message) = context.Response.StatusCode switch
                {
                    404 => ("not_found", "There is nothing at this path: see /openapi.json for the API's paths."),
                    405 => ("method_not_allowed", "This path does not take this HTTP method: see /openapi.json."),
                    _ => ("http_error", "The request could not be served as sent."),
                };
                await ApiError.Result(context.Response.StatusCode, code, message).ExecuteAsync(context);
            }
        });
    }

    private static bool IsClickRoute(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: "/v1/clicks" or "/events/click" } endpoint
        && endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.Contains("POST") == true;
}

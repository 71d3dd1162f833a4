namespace Tollbooth.Http;

/// <summary>
/// Whatever goes wrong, the client gets the API's error shape: unknown paths and methods answer
/// JSON 404/405, and an unexpected exception answers 500 with no detail (the detail goes to the log).
/// </summary>
public static class ErrorHandling
{
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
                await ApiError.Result(exception.StatusCode, "bad_request", "The request could not be read: check its headers and body.").ExecuteAsync(context);
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
}

namespace Tollbooth.Http;

/// <summary>
/// The one error shape of the API: a sentence a person can act on and a stable code. Never a stack
/// trace or an internal name.
/// </summary>
public sealed record ApiError(string Error, string Code)
{
    public static IResult Result(int status, string code, string error, int? retryAfterSeconds = null) =>
        new ApiErrorResult(status, new ApiError(error, code), retryAfterSeconds);

    private sealed class ApiErrorResult(int status, ApiError body, int? retryAfterSeconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (retryAfterSeconds is int seconds)
            {
                httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return Results.Json(body, JsonDefaults.Options, statusCode: status).ExecuteAsync(httpContext);
        }
    }
}

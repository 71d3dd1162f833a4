using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Tollbooth.Http;

/// <summary>
/// Kestrel's connection limits, set from <see cref="LimitsSettings"/> rather than left at the library's defaults:
/// a client that sends its headers a byte at a time (slow-loris), trickles a body, reads an answer too slowly or
/// holds an idle connection open is cut, so such clients cannot hold every connection the server will keep.
/// </summary>
public static class KestrelLimits
{
    public static void Apply(KestrelServerLimits limits, LimitsSettings settings)
    {
        // Click bodies are bounded where they are read (Ingest:BodyBytesMax), with the API's own 413 and sentence.
        limits.MaxRequestBodySize = null;
        limits.MaxConcurrentConnections = settings.ConnectionsMax == 0 ? null : settings.ConnectionsMax;
        limits.RequestHeadersTimeout = TimeSpan.FromMilliseconds(settings.RequestHeadersTimeoutMs);
        limits.KeepAliveTimeout = TimeSpan.FromMilliseconds(settings.KeepAliveTimeoutMs);
        MinDataRate? rate = settings.DataBytesPerSecondMin == 0
            ? null
            : new MinDataRate(settings.DataBytesPerSecondMin, TimeSpan.FromMilliseconds(settings.DataRateGraceMs));
        limits.MinRequestBodyDataRate = rate;
        limits.MinResponseDataRate = rate;
    }
}

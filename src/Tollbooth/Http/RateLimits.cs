using System.Net;
using System.Net.Sockets;
using Tollbooth.Core;
using Tollbooth.Ingest;

namespace Tollbooth.Http;

/// <summary>
/// The API's rate limits, so one tenant or one source cannot take what the others need: clicks a second per
/// publisher (a batch costs its clicks, decided after parsing and before anything is appended), requests a
/// second per source address (POST /v1/clicks and the click links), and requests a second per advertiser
/// (everything an advertiser key may call). A spent limit answers 429 with <c>Retry-After</c> in whole seconds
/// and one sentence naming the limit. Admin keys pass every limit: they are the operator's own (loadgen, benchmarks,
/// recovery scripts) and may make keys anyway, so limiting them would protect no one.
/// </summary>
public sealed class RateLimits : IDisposable
{
    public const string Code = "rate_limited";

    private readonly TokenBuckets<string>? _publishers;
    private readonly TokenBuckets<IPAddress>? _addresses;
    private readonly TokenBuckets<string>? _advertisers;
    private readonly Action<string> _limited;

    /// <param name="limited">Called with the limit's name (publisher, address, advertiser) for every 429; cheap, must not throw.</param>
    public RateLimits(LimitsSettings settings, Action<string>? limited = null)
    {
        _publishers = settings.PublisherClicksPerSecond > 0 ? new(settings.PublisherClicksPerSecond, settings.PublisherClicksBurst) : null;
        _addresses = settings.AddressRequestsPerSecond > 0 ? new(settings.AddressRequestsPerSecond, settings.AddressRequestsBurst) : null;
        _advertisers = settings.AdvertiserQueriesPerSecond > 0 ? new(settings.AdvertiserQueriesPerSecond, settings.AdvertiserQueriesBurst) : null;
        _limited = limited ?? (static _ => { });
    }

    /// <summary>One request from the caller's source address; null when within its limit, else the 429.</summary>
    public IResult? AdmitAddress(HttpContext context)
    {
        if (_addresses is null)
        {
            return null;
        }

        int seconds = _addresses.TryTake(AddressKey(context.Connection.RemoteIpAddress), 1);
        return seconds == 0 ? null : Refuse("address", seconds, $"This address has sent more than its limit of {_addresses.PerSecond} requests a second: retry after {seconds} s.");
    }

    /// <summary>One request of an advertiser key; null when within the advertiser's limit (or not an advertiser key), else the 429.</summary>
    public IResult? AdmitAdvertiser(ApiKey caller)
    {
        if (_advertisers is null || caller.Role != ApiKeyRole.Advertiser || caller.AdvertiserId is not { } advertiser)
        {
            return null;
        }

        int seconds = _advertisers.TryTake(advertiser, 1);
        return seconds == 0 ? null : Refuse("advertiser", seconds, AdvertiserSentence(seconds));
    }

    /// <summary>
    /// Before a click request's body is read: the 429 when the publisher's bucket is empty, so a publisher far over
    /// its limit costs a header check, not a parse. Takes nothing; <see cref="AdmitClicks"/> takes the clicks.
    /// </summary>
    public IResult? CheckPublisher(ApiKey caller)
    {
        if (_publishers is null || caller.Role != ApiKeyRole.Publisher || caller.PublisherId is not { } publisher)
        {
            return null;
        }

        int seconds = _publishers.SecondsUntilAny(publisher);
        return seconds == 0 ? null : Refuse("publisher", seconds, PublisherSentence(seconds));
    }

    /// <summary>
    /// Takes <paramref name="clicks"/> from the publisher's bucket once the body is parsed, before anything is
    /// appended: null when taken (or for an admin key, whose publisher is null), else the whole request's 429.
    /// </summary>
    public IngestOutcome? AdmitClicks(string? keyPublisherId, int clicks)
    {
        if (_publishers is null || keyPublisherId is null || clicks == 0)
        {
            return null;
        }

        int seconds = _publishers.TryTake(keyPublisherId, clicks);
        if (seconds == 0)
        {
            return null;
        }

        _limited("publisher");
        return IngestOutcome.Failed(429, Code, PublisherSentence(seconds)) with { RetryAfterSeconds = seconds };
    }

    public void Dispose()
    {
        _publishers?.Dispose();
        _addresses?.Dispose();
        _advertisers?.Dispose();
    }

    private string PublisherSentence(int seconds) =>
        $"This publisher has sent more than its limit of {_publishers!.PerSecond} clicks a second: retry after {seconds} s, or send fewer clicks.";

    private string AdvertiserSentence(int seconds) =>
        $"This advertiser has made more than its limit of {_advertisers!.PerSecond} requests a second: retry after {seconds} s.";

    private IResult Refuse(string limit, int seconds, string sentence)
    {
        _limited(limit);
        return ApiError.Result(429, Code, sentence, seconds);
    }

    /// <summary>
    /// The bucket an address draws from: an IPv4 address (mapped ones too) as it is, an IPv6 address by its /64,
    /// the block one host or household usually gets whole; no address (not over TCP) shares one bucket.
    /// </summary>
    internal static IPAddress AddressKey(IPAddress? address)
    {
        if (address is null)
        {
            return IPAddress.None;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }
}

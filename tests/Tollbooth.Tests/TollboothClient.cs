using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Tollbooth.Tests;

/// <summary>A thin HTTP client for the public API, as an outside client would use it.</summary>
public sealed class TollboothClient : IDisposable
{
    private readonly HttpClient _http;

    public TollboothClient(Uri baseAddress, string key)
    {
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        Key = key;
    }

    public string Key { get; }

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json", string? key = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        string? useKey = key ?? Key;
        if (useKey.Length > 0)
        {
            request.Headers.Add("X-Api-Key", useKey);
        }

        return _http.SendAsync(request);
    }

    public Task<HttpResponseMessage> PostClicksAsync(string body, string contentType = "application/json", string? key = null) =>
        SendAsync(HttpMethod.Post, "/v1/clicks", body, contentType, key);

    public static async Task<JsonElement> JsonOf(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path, string? key = null)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, path, key: key);
        return (response.StatusCode, await JsonOf(response));
    }

    public async Task<string> CreateKeyAsync(string role, string? id = null)
    {
        string body = role switch
        {
            "publisher" => JsonSerializer.Serialize(new { role, publisher_id = id }),
            "advertiser" => JsonSerializer.Serialize(new { role, advertiser_id = id }),
            _ => JsonSerializer.Serialize(new { role }),
        };
        using HttpResponseMessage response = await SendAsync(HttpMethod.Post, "/v1/keys", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await JsonOf(response)).GetProperty("key").GetString()!;
    }

    /// <summary>Polls /v1/status until lag is 0 (every accepted click counted), with a deadline.</summary>
    public async Task WaitForLagZeroAsync(TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        JsonElement last = default;
        while (DateTime.UtcNow < deadline)
        {
            (HttpStatusCode status, JsonElement body) = await GetAsync("/v1/status");
            if (status == HttpStatusCode.OK)
            {
                last = body;
                if (body.GetProperty("lag").GetInt64() == 0 && body.GetProperty("ready").GetBoolean())
                {
                    return;
                }
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"lag did not reach 0 in time; last status: {last}");
    }

    public async Task<long> CountAsync(string adId, string from, string to, string extraQuery = "", string? key = null)
    {
        (HttpStatusCode status, JsonElement body) = await GetAsync($"/v1/ads/{Uri.EscapeDataString(adId)}/aggregated_count?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}{extraQuery}", key);
        Assert.True(status == HttpStatusCode.OK, $"aggregated_count answered {(int)status}: {body}");
        return body.GetProperty("count").GetInt64();
    }

    public void Dispose() => _http.Dispose();
}

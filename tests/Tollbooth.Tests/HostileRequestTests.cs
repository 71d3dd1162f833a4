// Goal: no body, header or key a client can send makes Tollbooth answer anything but a documented status
// (202, 400, 401, 403, 413, 415, 429, 503), never a 500, and every error it answers (whole-request or per
// item) is one sentence with a stable code: no stack trace, no internal type name, no more than a short
// prefix of the input echoed back. Method: 100,000 seeded requests (TOLLBOOTH_HOSTILE_REQUESTS to change
// it) through the real program's HTTP pipeline over loopback, eight keep-alive clients in parallel. Request
// i is generated from (seed, i) alone, so a failure names the seed and the index that reproduce it:
// random bytes, deep nesting, invalid UTF-8, huge numbers, huge ids, wrong content types, truncated and
// mutated batches, odd JSON shapes, NDJSON garbage, wrong keys, oversized bodies.
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tollbooth.Tests;

public sealed class HostileRequestTests(ITestOutputHelper output)
{
    private const int Workers = 8;
    private const int EchoCharsMax = 24;
    private static readonly int[] s_allowed = [202, 400, 401, 403, 413, 415, 429, 503];
    private static readonly string[] s_internals = ["   at ", "Exception", "System.", "Microsoft.", "Tollbooth.", "DuckDB", "stack", "\n"];

    private static readonly string[] s_contentTypes =
    [
        "application/json", "application/json; charset=utf-8", "application/x-ndjson", "text/plain", "application/xml",
        "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/octet-stream", "*/*", "application/",
    ];

    [Fact]
    public async Task Hostile_requests_get_only_documented_statuses_and_one_sentence_errors()
    {
        int seed = TestSeed.Next();
        int requests = int.TryParse(Environment.GetEnvironmentVariable("TOLLBOOTH_HOSTILE_REQUESTS"), CultureInfo.InvariantCulture, out int n) ? n : 100_000;
        using var server = new TollboothProcess(null, "--Log:Partitions", "2");
        server.Start();
        string[] keys;
        using (var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            keys = [TollboothProcess.AdminKey, await admin.CreateKeyAsync("publisher", "pub1"), await admin.CreateKeyAsync("advertiser", "adv1"), "tb_not_a_key", ""];
        }

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Workers }) { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentQueue<string>();
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < requests && failures.IsEmpty)
            {
                (string kind, HttpRequestMessage request, byte[] body) = Generate(seed, index, keys);
                using (request)
                {
                    using HttpResponseMessage response = await http.SendAsync(request);
                    string text = await response.Content.ReadAsStringAsync();
                    statuses.AddOrUpdate((int)response.StatusCode, 1, (_, count) => count + 1);
                    if (Judge((int)response.StatusCode, text, body) is string problem)
                    {
                        failures.Enqueue(
                            $"seed {seed} (TOLLBOOTH_TEST_SEED) request {index} ({kind}): {problem}\n" +
                            $"request body ({body.Length} bytes) starts: {Printable(body, 300)}\nresponse {(int)response.StatusCode}: {Printable(Encoding.UTF8.GetBytes(text), 600)}");
                    }
                }
            }
        }));

        Assert.True(failures.IsEmpty, string.Join("\n\n", failures.Take(3)) + "\n" + FaultChecks.Tail(server.Output));
        Assert.True(server.IsRunning, $"seed {seed}: the server died.\n{FaultChecks.Tail(server.Output)}");
        Assert.Equal(requests, statuses.Values.Sum());
        output.WriteLine($"seed {seed}: {requests} hostile requests, statuses {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} x{s.Value}"))}; no 500, every error one sentence.");
    }

    /// <summary>Null when the answer is acceptable, else what is wrong with it.</summary>
    private static string? Judge(int status, string text, byte[] body)
    {
        if (Array.IndexOf(s_allowed, status) < 0)
        {
            return $"status {status} is not one of {string.Join(", ", s_allowed)}";
        }

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(text).RootElement;
        }
        catch (JsonException)
        {
            return "the answer is not JSON";
        }

        string input = Encoding.UTF8.GetString(body);
        if (status != 202)
        {
            return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("code", out JsonElement code) && code.ValueKind == JsonValueKind.String
                && root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.String
                ? JudgeSentence(error.GetString()!, input)
                : "an error answer without a string error and code";
        }

        foreach (JsonElement rejection in root.GetProperty("rejected").EnumerateArray())
        {
            if (JudgeSentence(rejection.GetProperty("error").GetString()!, input) is string problem)
            {
                return $"rejection {rejection.GetProperty("index")}: {problem}";
            }
        }

        return null;
    }

    private static string? JudgeSentence(string error, string input)
    {
        foreach (string internals in s_internals)
        {
            if (error.Contains(internals, StringComparison.Ordinal))
            {
                return $"the error holds '{internals.Replace("\n", "\\n", StringComparison.Ordinal)}'";
            }
        }

        if (error.Length > 300 || !error.EndsWith('.'))
        {
            return "the error is not one sentence ending with a full stop";
        }

        for (int i = 0; i + 2 < error.Length - 1; i++)
        {
            if (error[i] == '.' && error[i + 1] == ' ' && char.IsUpper(error[i + 2]))
            {
                return "the error holds more than one sentence";
            }
        }

        for (int start = 0; start + EchoCharsMax <= error.Length; start++)
        {
            if (input.Contains(error.AsSpan(start, EchoCharsMax), StringComparison.Ordinal))
            {
                return $"the error echoes more than {EchoCharsMax} characters of the input";
            }
        }

        return null;
    }

    private static (string Kind, HttpRequestMessage Request, byte[] Body) Generate(int seed, int index, string[] keys)
    {
        var random = new Random(unchecked((seed * 1_000_003) + index));
        (string kind, byte[] body, string? contentType) = (random.Next(12)) switch
        {
            0 => ("random bytes", RandomBytes(random, random.Next(2000)), Pick(random, s_contentTypes)),
            1 => ("deep nesting", Encoding.UTF8.GetBytes(Nesting(random)), "application/json"),
            2 => ("invalid UTF-8", InvalidUtf8(random), random.Next(2) == 0 ? "application/json" : "application/x-ndjson"),
            3 => ("huge numbers", Encoding.UTF8.GetBytes(Click(random, $"\"timestamp\":{HugeNumber(random)},\"cost_micros\":{HugeNumber(random)}")), "application/json"),
            4 => ("huge ids", Encoding.UTF8.GetBytes(HugeIds(random)), "application/json"),
            5 => ("wrong content type", Encoding.UTF8.GetBytes(Batch(random, 3)), Pick(random, s_contentTypes[3..])),
            6 => ("truncated batch", Truncated(random), "application/json"),
            7 => ("mutated batch", Mutated(random), random.Next(2) == 0 ? "application/json" : "application/x-ndjson"),
            8 => ("odd JSON shape", Encoding.UTF8.GetBytes(Pick(random, OddShapes)), "application/json"),
            9 => ("NDJSON garbage", Encoding.UTF8.GetBytes(NdjsonGarbage(random)), "application/x-ndjson"),
            10 => ("no content type", Encoding.UTF8.GetBytes(Batch(random, 2)), null),
            _ => random.Next(500) == 0
                ? ("oversized body", Encoding.UTF8.GetBytes("[" + new string(' ', (4 << 20) + 10) + "]"), "application/json")
                : ("valid batch", Encoding.UTF8.GetBytes(Batch(random, 1 + random.Next(5))), "application/json"),
        };
        var request = new HttpRequestMessage(HttpMethod.Post, random.Next(10) == 0 ? "/events/click" : "/v1/clicks") { Content = new ByteArrayContent(body) };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        string key = random.Next(10) < 7 ? keys[0] : Pick(random, keys);
        if (key.Length > 0)
        {
            if (random.Next(2) == 0)
            {
                request.Headers.Add("X-Api-Key", key);
            }
            else
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
        }

        return (kind, request, body);
    }

    private static readonly string[] OddShapes =
    [
        "null", "true", "0", "-1e999", "\"a string\"", "[]", "{}", "[null]", "[[]]", "[1,2,3]", "[\"x\"]", "{\"ad_id\":[]}",
        "{\"ad_id\":{},\"advertiser_id\":null}", "{\"ad_id\":1,\"advertiser_id\":2}", "{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"device\":[1]}",
        "{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"ip\":\"999.1.1.1\"}", "{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"timestamp\":\"yesterday\"}",
        "{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"token\":\"..\"}", "{\"ad_id\":\"\\u0000\",\"advertiser_id\":\"\\ud800\"}",
        "{\"ad_id\":\"a\",\"ad_id\":\"b\",\"advertiser_id\":\"c\"}", "[{}, {\"ad_id\":\"a\"}, 7]", "{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"cost_micros\":-5}",
    ];

    private static string Click(Random random, string extra) =>
        $"{{\"click_id\":\"h{random.Next()}\",\"ad_id\":\"ad{random.Next(50)}\",\"advertiser_id\":\"adv{random.Next(3)}\",\"publisher_id\":\"pub{random.Next(3)}\",{extra}}}";

    private static string Batch(Random random, int size) =>
        "[" + string.Join(',', Enumerable.Range(0, size).Select(_ => Click(random, $"\"timestamp\":{DateTimeOffset.UtcNow.AddMinutes(-random.Next(60)).ToUnixTimeMilliseconds()},\"country\":\"{Pick(random, ["us", "DE", "zz", "XX", "usa"])}\",\"device\":\"{Pick(random, ["mobile", "desktop", "toaster"])}\""))) + "]";

    private static string Nesting(Random random)
    {
        int depth = random.Next(8) == 0 ? random.Next(10_000, 100_000) : random.Next(1, 300);
        string open = random.Next(2) == 0 ? "[" : "{\"ad_id\":";
        var text = new StringBuilder();
        text.Insert(0, open, depth);
        if (random.Next(2) == 0)
        {
            text.Append('1');
            text.Append(open == "[" ? ']' : '}', depth);
        }

        return text.ToString();
    }

    private static byte[] InvalidUtf8(Random random)
    {
        byte[][] bad = [[0xC3, 0x28], [0xFF], [0xFE, 0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82], [0x80]];
        byte[] text = Encoding.UTF8.GetBytes(Batch(random, 1 + random.Next(3)));
        var result = new List<byte>(text);
        for (int i = 0; i < 1 + random.Next(4); i++)
        {
            result.InsertRange(random.Next(result.Count), Pick(random, bad));
        }

        return result.ToArray();
    }

    private static string HugeNumber(Random random) => random.Next(6) switch
    {
        0 => "1" + new string('9', random.Next(20, 5000)),
        1 => "-" + new string('9', random.Next(20, 400)),
        2 => "1e" + random.Next(300, 100_000).ToString(CultureInfo.InvariantCulture),
        3 => "1.5e308",
        4 => "9223372036854775808",
        _ => "0." + new string('0', random.Next(400)) + "1",
    };

    private static string HugeIds(Random random)
    {
        string huge = new(Pick(random, ['a', '9', '-', 'é', '\u4e2d']), random.Next(65, 200_000));
        string field = Pick(random, ["click_id", "ad_id", "advertiser_id", "campaign_id", "publisher_id", "user_id", "user_agent", "ip", "country", "token"]);
        return random.Next(2) == 0
            ? $"{{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"{field}\":\"{huge}\"}}"
            : $"{{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"{huge}\":1}}";
    }

    private static byte[] Truncated(Random random)
    {
        byte[] whole = Encoding.UTF8.GetBytes(Batch(random, 1 + random.Next(6)));
        return whole.AsSpan(0, random.Next(whole.Length)).ToArray();
    }

    private static byte[] Mutated(Random random)
    {
        byte[] body = Encoding.UTF8.GetBytes(Batch(random, 1 + random.Next(6)));
        for (int i = 0; i < 1 + random.Next(8); i++)
        {
            body[random.Next(body.Length)] = (byte)random.Next(256);
        }

        return body;
    }

    private static string NdjsonGarbage(Random random) =>
        string.Join('\n', Enumerable.Range(0, 1 + random.Next(6)).Select(_ => random.Next(3) switch
        {
            0 => Click(random, "\"device\":\"ctv\""),
            1 => Pick(random, OddShapes),
            _ => Encoding.Latin1.GetString(RandomBytes(random, random.Next(80))).Replace("\n", "", StringComparison.Ordinal),
        }));

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static string Printable(byte[] bytes, int max)
    {
        var text = new StringBuilder();
        foreach (byte b in bytes.AsSpan(0, Math.Min(bytes.Length, max)))
        {
            text.Append(b is >= 32 and < 127 ? ((char)b).ToString() : $"\\x{b:X2}");
        }

        return text.ToString();
    }
}

using System.Text;

namespace Tollbooth.Ingest.Tests;

/// <summary>
/// Seeded random click bodies for comparing parsers: valid clicks, every field invalid in each way the rules know,
/// names and values with JSON escapes (lone surrogates too), non-ASCII text at the length limits, repeated names,
/// deep nesting, arrays of mixed items, NDJSON with blank and broken lines, and truncated or byte-flipped bodies.
/// </summary>
internal sealed class ClickBodies(int seed, IReadOnlyList<string>? tokens = null)
{
    private static readonly string[] s_fields = ["click_id", "ad_id", "campaign_id", "advertiser_id", "publisher_id", "user_id", "ip", "country", "device", "user_agent", "timestamp", "cost_micros", "token"];

    private static readonly string[] s_ips =
    [
        "\"203.0.113.7\"", "\"0.0.0.0\"", "\"255.255.255.255\"", "\"01.2.3.4\"", "\"1.2.3.04\"", "\"010.0.0.1\"", "\"1.2.3\"", "\"256.1.1.1\"",
        "\"1.2.3.4.5\"", "\"1..2.3\"", "\"::1\"", "\"2001:db8::1\"", "\"2001:DB8::1\"", "\"::ffff:1.2.3.4\"", "\"::ffff:102:304\"", "\"fe80::1%1\"",
        "\"fe80::1%eth0\"", "\"[::1]\"", "\"abc\"", "\" 1.2.3.4\"", "\"1.2.3.4 \"", "\"1.2.3.999\"", "\"08.1.1.1\"", "\"1:2:3:4:5:6:7:8\"",
        "\"1:2:3:4:5:6:7:8:9\"", "\"::\"", "\"4294967295.1.1.1\"", "\"\\u0031.2.3.4\"", "\"1.2.3.4\\u0000\"", "\"\"", "null", "7", "\"١.٢.٣.٤\"",
    ];

    private static readonly string[] s_countries = ["\"us\"", "\"US\"", "\"Us\"", "\"zz\"", "\"XX\"", "\"u1\"", "\"USA\"", "\"é\"", "\"éé\"", "\"\"", "\"\\u0055S\"", "null", "1", "\"U\"", "\"K\u212a\""];

    private static readonly string[] s_devices = ["\"desktop\"", "\"mobile\"", "\"tablet\"", "\"ctv\"", "\"other\"", "\"Mobile\"", "\"tv\"", "\"\"", "\"mobil\\u0065\"", "null", "3", "\"desktopdesktopdesk\""];

    private static readonly string[] s_timestamps =
    [
        "1794999999000", "0", "-1", "-0", "1e3", "1.5", "1795000000000.0", "99999999999999999999", "253402300799999", "253402300800000",
        "1795000300000", "1795000300001", "\"2026-11-18T00:00:00Z\"", "\"2026-11-18T00:00:00.123+01:00\"", "\"2026-11-18t00:00:00z\"",
        "\"2026-11-18 00:00:00Z\"", "\"2026-11-18T00:00:00\"", "\"1795000000000\"", "\"2030-01-01T00:00:00Z\"", "\"2026-13-18T00:00:00Z\"",
        "\"2026-11-18T00:00:00\\u005a\"", "\"\\ud800\"", "\"\"", "\" \"", "null", "true", "{}", "[]", "\"1969-12-31T23:59:59Z\"",
        "\"2026-11-18T00:00:00-05:00\"", "\"Wed, 18 Nov 2026 00:00:00Z\"",
    ];

    private static readonly string[] s_costs = ["0", "1500", "-1", "1.0", "1e2", "\"5\"", "99999999999999999999", "9223372036854775807", "-0", "null", "01"];

    private static readonly string[] s_texts =
    [
        "a", "ad1", "adv1", "signed-adv", "pub1", "pub-k", "c.1_x:y-z", "é", "中文", "😀", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\u00e9",
        "a\\u0001b", "a\\nb", "a\\u007fb", "a\u007fb", "a\\tb", "tab\\\"quote", "back\\\\slash", "\\/", "has space", "\\u0000",
    ];

    private readonly Random _random = new(seed);

    public byte[] Next(bool ndjson)
    {
        string body = ndjson ? Lines() : _random.Next(3) == 0 ? Item() : Array();
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        return _random.Next(6) switch
        {
            0 when bytes.Length > 0 => bytes[.._random.Next(bytes.Length)],
            1 when bytes.Length > 0 => Flip(bytes),
            _ => bytes,
        };
    }

    private byte[] Flip(byte[] bytes)
    {
        byte[] flipped = (byte[])bytes.Clone();
        ReadOnlySpan<byte> replacements = "{}[],:\"\\ \n0a\u007f"u8;
        int flips = 1 + _random.Next(3);
        for (int i = 0; i < flips; i++)
        {
            flipped[_random.Next(flipped.Length)] = replacements[_random.Next(replacements.Length)];
        }

        return flipped;
    }

    private string Array()
    {
        int count = _random.Next(9);
        var items = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            items.Add(Item());
        }

        return "[" + string.Join(_random.Next(10) == 0 ? " , " : ",", items) + "]" + (_random.Next(20) == 0 ? " x" : "");
    }

    private string Lines()
    {
        int count = _random.Next(9);
        var lines = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            lines.Add(_random.Next(8) switch
            {
                0 => "",
                1 => " \t\r",
                2 => "{\"ad_id\":",
                _ => Item(),
            });
        }

        return string.Join(_random.Next(3) == 0 ? "\r\n" : "\n", lines) + (_random.Next(3) == 0 ? "\n" : "");
    }

    private string Item() => _random.Next(12) switch
    {
        0 => Pick(["1", "\"x\"", "null", "true", "[]", "[{\"ad_id\":\"a\"}]", "{}"]),
        1 => Nested(61 + _random.Next(6)),
        _ => Click(),
    };

    private string Nested(int depth)
    {
        string value = _random.Next(2) == 0 ? new string('[', depth) + new string(']', depth) : Repeat("{\"a\":", depth) + "1" + new string('}', depth);
        return "{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"extra\":" + value + "}";
    }

    private string Click()
    {
        var properties = new List<string>();
        bool valid = _random.Next(3) == 0;
        foreach (string field in s_fields)
        {
            bool required = field is "ad_id" or "advertiser_id";
            if ((!required || !valid) && _random.Next(3) == 0)
            {
                continue;
            }

            properties.Add(Name(field, valid) + ":" + (valid ? ValidValue(field) : Value(field)));
            if (_random.Next(15) == 0)
            {
                properties.Add(Name(field, valid) + ":" + Value(field));
            }
        }

        if (_random.Next(5) == 0)
        {
            properties.Add(Name(Pick(["extra", "ad_", "ad_id_", "\\ud800", "ad_\\ud800_x", "a\\ud800", "advertiser\\udc00", "click_idx", "x"]), valid: false) + ":" + Value("extra"));
        }

        Shuffle(properties);
        return "{" + string.Join(",", properties) + "}";
    }

    private string Name(string field, bool valid)
    {
        if (valid || _random.Next(4) != 0)
        {
            return "\"" + field + "\"";
        }

        // The same name with an escape: plain letters as \u, or a lone surrogate after a matching prefix.
        int at = _random.Next(field.Length);
        return _random.Next(3) switch
        {
            0 => "\"" + field[..at] + "\\u" + ((int)field[at]).ToString("x4", System.Globalization.CultureInfo.InvariantCulture) + field[(at + 1)..] + "\"",
            1 => "\"" + field[..at] + "\\ud800" + field[at..] + "\"",
            _ => "\"" + field[..at] + "\\/" + field[at..] + "\"",
        };
    }

    private string ValidValue(string field) => field switch
    {
        "click_id" => "\"c" + _random.Next(1000) + "\"",
        "ad_id" => "\"ad" + _random.Next(50) + "\"",
        "advertiser_id" => Pick(["\"adv1\"", "\"adv2\"", "\"signed-adv\""]),
        "ip" => Pick(["\"203.0.113." + _random.Next(256) + "\"", "\"2001:db8::" + _random.Next(100) + "\"", "\"::ffff:10.0.0.1\""]),
        "country" => Pick(["\"us\"", "\"DE\"", "\"xx\""]),
        "device" => Pick(["\"mobile\"", "\"desktop\""]),
        "timestamp" => _random.Next(2) == 0 ? (ParserPair.Now - _random.Next(100_000)).ToString(System.Globalization.CultureInfo.InvariantCulture) : "\"2026-11-18T00:00:00Z\"",
        "cost_micros" => _random.Next(5000).ToString(System.Globalization.CultureInfo.InvariantCulture),
        "token" => tokens is { Count: > 0 } ? "\"" + Pick(tokens) + "\"" : "null",
        _ => "\"" + Pick(["x", "pub1", "pub-k", "camp1", "Mozilla/5.0", "é中"]) + "\"",
    };

    private string Value(string field) => _random.Next(10) switch
    {
        0 => Pick(["null", "1", "-5", "true", "false", "{}", "[1,{\"a\":[]}]", "\"\""]),
        1 => "\"" + Long(field) + "\"",
        _ => field switch
        {
            "ip" => Pick(s_ips),
            "country" => Pick(s_countries),
            "device" => Pick(s_devices),
            "timestamp" => Pick(s_timestamps),
            "cost_micros" => Pick(s_costs),
            "token" when tokens is { Count: > 0 } && _random.Next(2) == 0 => "\"" + Pick(tokens) + "\"",
            _ when _random.Next(3) == 0 => ValidValue(field),
            _ => "\"" + Pick(s_texts) + (_random.Next(2) == 0 ? Pick(s_texts) : "") + "\"",
        },
    };

    // Text right at a field's length limit (or one over), counted in UTF-16: ASCII, two-byte, three-byte and surrogate pairs.
    private string Long(string field)
    {
        int limit = field switch
        {
            "click_id" or "user_id" => 128,
            "user_agent" => 512,
            "token" => 2048,
            "country" => 2,
            "device" => 16,
            _ => 64,
        };
        int length = limit + _random.Next(3) - 1;
        string unit = Pick(["a", "é", "中", "😀", "\\u00e9", "\\ud83d\\ude00"]);
        int unitLength = unit is "😀" or "\\ud83d\\ude00" ? 2 : 1;
        return Repeat(unit, Math.Max(1, length / unitLength)) + (length % unitLength == 1 ? "b" : "");
    }

    private static string Repeat(string unit, int count) => new StringBuilder(unit.Length * count).Insert(0, unit, count).ToString();

    private T Pick<T>(IReadOnlyList<T> options) => options[_random.Next(options.Count)];

    private void Shuffle(List<string> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = _random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}

// Goal: settings come from the --config JSON file, then TOLLBOOTH_<SECTION>__<KEY> environment variables, then
// flags, later ones winning; a misspelt name or a value of the wrong type is refused at start with one sentence
// naming it and where it came from, a non-zero exit and no stack trace. Method: the real program, as a child
// process: `tollbooth settings` prints what serve would use, and `tollbooth serve` shows it acts on it.
using System.Net;
using System.Text.Json;

namespace Tollbooth.Tests;

public sealed class SettingsTests : IDisposable
{
    private readonly string _directory = TollboothProcess.NewDataDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string ConfigFile(string json)
    {
        string path = Path.Combine(_directory, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private const string LayeredConfig = """
        {
          "Log": { "Partitions": 3 },
          "Processing": { "CommitIntervalMs": 111 },
          "Ingest": { "ClicksPerRequestMax": 7 }
        }
        """;

    private static readonly Dictionary<string, string> s_layeredEnvironment = new()
    {
        ["TOLLBOOTH_PROCESSING__COMMITINTERVALMS"] = "222",
        ["TOLLBOOTH_INGEST__CLICKSPERREQUESTMAX"] = "8",
    };

    [Fact]
    public void Config_file_is_overridden_by_environment_which_is_overridden_by_flags()
    {
        string config = ConfigFile(LayeredConfig);
        (int exitCode, string output, string error) = TollboothProcess.RunVerbWithEnvironment(
            s_layeredEnvironment, "settings", "--config", config, "--Ingest:ClicksPerRequestMax", "9");
        Assert.True(exitCode == 0, $"tollbooth settings exited {exitCode}: {error}");

        JsonElement settings = JsonDocument.Parse(output).RootElement;
        Assert.Equal(3, settings.GetProperty("Log").GetProperty("Partitions").GetInt32());
        Assert.Equal(222, settings.GetProperty("Processing").GetProperty("CommitIntervalMs").GetInt32());
        Assert.Equal(9, settings.GetProperty("Ingest").GetProperty("ClicksPerRequestMax").GetInt32());
        Assert.Equal(10_000, settings.GetProperty("Processing").GetProperty("WatermarkDelayMs").GetInt64());
    }

    [Fact]
    public async Task Serve_takes_the_flag_over_the_environment_over_the_config_file()
    {
        string config = ConfigFile(LayeredConfig);
        using var server = new TollboothProcess(null, "--config", config, "--Ingest:ClicksPerRequestMax", "9");
        foreach ((string name, string value) in s_layeredEnvironment)
        {
            server.Environment[name] = value;
        }

        server.Start();
        using var admin = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        using HttpResponseMessage nine = await admin.PostClicksAsync(Clicks(9));
        Assert.Equal(HttpStatusCode.Accepted, nine.StatusCode);
        using HttpResponseMessage ten = await admin.PostClicksAsync(Clicks(10));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, ten.StatusCode);
        Assert.Equal("too_many_clicks", (await TollboothClient.JsonOf(ten)).GetProperty("code").GetString());

        (HttpStatusCode status, JsonElement body) = await admin.GetAsync("/v1/status");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("partitions").GetArrayLength());
    }

    public static TheoryData<string, string, string> Refused => new()
    {
        // where the mistake is, the value, what the sentence must name
        { "flag", "--Log:Partitons=4", "Log:Partitons" },
        { "flag", "--Processing:CommitIntervalMs=soon", "whole number" },
        { "flag", "--Log=4", "group of settings" },
        { "flag", "--ShutdownTimeoutMs=0", "ShutdownTimeoutMs must be between" },
        { "flag", "--Log:PendingBytesMax=1048576", "Log:PendingBytesMax must be at least 4 times Ingest:BodyBytesMax" },
        { "environment", "TOLLBOOTH_INGEST__BODYBYTESMAX=big", "TOLLBOOTH_INGEST__BODYBYTESMAX" },
        { "environment", "TOLLBOOTH_INGEST__CLICKSPERREQUEST=5", "no setting" },
        { "config", """{"Processing": {"CommitIntervalMz": 5}}""", "Processing:CommitIntervalMz" },
        { "config", """{"Log": {"Partitions": "many"}}""", "whole number" },
        { "config", """{"Log": {"Partitions": 3""", "not a valid JSON" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void A_wrong_setting_is_refused_at_start_with_one_sentence(string source, string mistake, string named)
    {
        var environment = new Dictionary<string, string>();
        var args = new List<string> { "serve", "--data", Path.Combine(_directory, "data"), "--urls", "http://127.0.0.1:1" };
        switch (source)
        {
            case "flag":
                args.Add(mistake);
                break;
            case "environment":
                string[] pair = mistake.Split('=', 2);
                environment[pair[0]] = pair[1];
                break;
            default:
                args.AddRange(["--config", ConfigFile(mistake)]);
                break;
        }

        (int exitCode, string output, string error) = TollboothProcess.RunVerbWithEnvironment(environment, [.. args]);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain("listening on", output);
        string[] lines = error.Trim().Split('\n');
        Assert.True(lines.Length == 1, $"expected one line, got:\n{error}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.DoesNotContain("Exception", error);
        Assert.DoesNotContain("   at ", error);
        Assert.False(Directory.Exists(Path.Combine(_directory, "data")), "the data directory was made although a setting was refused");
    }

    [Fact]
    public void Every_setting_is_in_the_documented_table()
    {
        string programPath = TollboothProcess.ProgramPath();
        string root = programPath[..programPath.IndexOf($"{Path.DirectorySeparatorChar}src{Path.DirectorySeparatorChar}Tollbooth{Path.DirectorySeparatorChar}bin", StringComparison.Ordinal)];
        string table = File.ReadAllText(Path.Combine(root, "docs", "settings.md"));
        var missing = SettingNames(typeof(TollboothSettings), "").Where(name => !table.Contains($"| `{name}`", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, $"docs/settings.md has no row for: {string.Join(", ", missing)}");
    }

    private static IEnumerable<string> SettingNames(Type type, string prefix)
    {
        foreach (System.Reflection.PropertyInfo property in type.GetProperties())
        {
            if (!property.CanWrite)
            {
                continue;
            }

            Type propertyType = property.PropertyType;
            if (propertyType.IsClass && propertyType != typeof(string) && !propertyType.IsArray)
            {
                foreach (string name in SettingNames(propertyType, prefix + property.Name + ":"))
                {
                    yield return name;
                }
            }
            else
            {
                yield return prefix + property.Name;
            }
        }
    }

    private static string Clicks(int count) =>
        "[" + string.Join(',', Enumerable.Range(0, count).Select(i => $"{{\"click_id\":\"s{count}-{i}\",\"ad_id\":\"ad-s\",\"advertiser_id\":\"adv1\"}}")) + "]";
}

using System.Text.Json;
using Tollbooth.Core;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth settings [--config FILE] [flags]</c>: prints the settings <c>serve</c> would run with, after the
/// config file, the environment and the flags, as JSON in the shape of a config file; exit 0, or 2 when a
/// setting is refused.
/// </summary>
public static class SettingsCommand
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true };

    public static int Run(TollboothSettings settings)
    {
        settings.Processing.BotUserAgents ??= [.. AggregatorOptions.DefaultBotUserAgentPatterns];
        Console.WriteLine(JsonSerializer.Serialize(settings, s_options));
        return 0;
    }
}

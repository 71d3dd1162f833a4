using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Tollbooth;

/// <summary>
/// Reads the three sources of settings, each checked on its own before they are layered, so a mistake is
/// refused at start with the setting, the value and where it came from: a misspelt name would otherwise be
/// ignored silently and the default used.
/// </summary>
public static class SettingsSources
{
    public const string EnvironmentPrefix = "TOLLBOOTH_";

    /// <summary>The <c>--config</c> JSON file, checked; null without the flag.</summary>
    public static IConfiguration? ConfigFile(string? path)
    {
        if (path is null)
        {
            return null;
        }

        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new SettingsException($"The config file {full} does not exist: check the path given to --config.");
        }

        IConfigurationRoot file;
        try
        {
            file = new ConfigurationBuilder().AddJsonFile(full, optional: false).Build();
        }
        catch (InvalidDataException exception)
        {
            string detail = exception.InnerException is JsonException json ? $" ({json.Message.Split('\n')[0].TrimEnd('.')})" : "";
            throw new SettingsException($"The config file {full} is not a valid JSON object{detail}: fix it or start without --config.");
        }

        Check(file, key => $"the config file {full}", ignoreUnknownTopLevel: false);
        return file;
    }

    /// <summary>
    /// <c>TOLLBOOTH_SECTION__KEY</c> variables, checked. Variables without a section that name no setting are
    /// other variables of the program or its tests (<c>TOLLBOOTH_ADMIN_KEY</c>) and are left alone.
    /// </summary>
    public static IConfiguration Environment()
    {
        IConfigurationRoot environment = new ConfigurationBuilder().AddEnvironmentVariables(EnvironmentPrefix).Build();
        Check(environment, key => $"the environment variable {EnvironmentPrefix}{key.Replace(":", "__", StringComparison.Ordinal)}", ignoreUnknownTopLevel: true);
        return environment;
    }

    /// <summary>Command-line flags (<c>--Section:Key value</c> or <c>--section__key value</c>), checked.</summary>
    public static IConfiguration Flags(IReadOnlyDictionary<string, string> flags)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach ((string name, string value) in flags)
        {
            if (name != "config")
            {
                values[name.Replace("__", ":", StringComparison.Ordinal)] = value;
            }
        }

        IConfigurationRoot fromFlags = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        Check(fromFlags, key => $"the flag --{key}", ignoreUnknownTopLevel: false);
        return fromFlags;
    }

    private static void Check(IConfiguration configuration, Func<string, string> sourceOf, bool ignoreUnknownTopLevel)
    {
        foreach (IConfigurationSection section in configuration.GetChildren())
        {
            PropertyInfo? property = Find(typeof(TollboothSettings), section.Key);
            if (property is null)
            {
                if (ignoreUnknownTopLevel && !section.GetChildren().Any())
                {
                    continue;
                }

                throw Unknown(section.Path, sourceOf);
            }

            CheckValue(section, property, sourceOf);
        }
    }

    private static void CheckValue(IConfigurationSection section, PropertyInfo property, Func<string, string> sourceOf)
    {
        Type type = property.PropertyType;
        if (type.IsArray)
        {
            if (section.Value is not null || section.GetChildren().Any(item => item.GetChildren().Any()))
            {
                throw new SettingsException($"{section.Path} (from {sourceOf(section.Path)}) is a list of strings: give it as a JSON array in the config file, or as {section.Path}:0, {section.Path}:1 and so on.");
            }

            return;
        }

        if (IsSection(type))
        {
            if (section.Value is not null)
            {
                throw new SettingsException($"{section.Path} (from {sourceOf(section.Path)}) is a group of settings, not a setting: name one of them, such as {section.Path}:{type.GetProperties()[0].Name}.");
            }

            foreach (IConfigurationSection child in section.GetChildren())
            {
                PropertyInfo childProperty = Find(type, child.Key) ?? throw Unknown(child.Path, sourceOf);
                CheckValue(child, childProperty, sourceOf);
            }

            return;
        }

        if (section.GetChildren().Any())
        {
            throw new SettingsException($"{section.Path} (from {sourceOf(section.Path)}) is a single value, not a group of settings.");
        }

        if (!Parses(section.Value ?? "", type, out string expected))
        {
            throw new SettingsException($"{section.Path} is '{section.Value}' (from {sourceOf(section.Path)}), but it must be {expected}.");
        }
    }

    private static bool Parses(string value, Type type, out string expected)
    {
        (bool ok, expected) = type switch
        {
            _ when type == typeof(int) => (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _), "a whole number"),
            _ when type == typeof(long) => (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _), "a whole number"),
            _ when type == typeof(bool) => (bool.TryParse(value, out _), "true or false"),
            _ when type == typeof(double) => (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _), "a number"),
            _ => (true, "text"),
        };
        return ok;
    }

    private static bool IsSection(Type type) => type.IsClass && type != typeof(string);

    private static PropertyInfo? Find(Type type, string name) =>
        type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) is { CanWrite: true } property ? property : null;

    private static SettingsException Unknown(string path, Func<string, string> sourceOf) =>
        new($"There is no setting {path} (from {sourceOf(path)}): docs/settings.md lists every setting.");
}

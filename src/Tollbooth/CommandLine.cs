namespace Tollbooth;

/// <summary>Splits <c>verb --name value --flag</c> into the verb and a flag dictionary.</summary>
public static class CommandLine
{
    public static (string Verb, Dictionary<string, string> Flags) Parse(string[] args)
    {
        var flags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string verb = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "";
        for (int i = verb.Length > 0 ? 1 : 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new SettingsException($"Unexpected argument '{arg}': flags look like --name value.");
            }

            string name = arg[2..];
            int equals = name.IndexOf('=');
            if (equals > 0)
            {
                flags[name[..equals]] = name[(equals + 1)..];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                flags[name] = args[++i];
            }
            else
            {
                flags[name] = "true";
            }
        }

        return (verb, flags);
    }
}

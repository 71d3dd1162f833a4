using Tollbooth;
using Tollbooth.Commands;
using Tollbooth.Log;

try
{
    (string verb, Dictionary<string, string> flags) = CommandLine.Parse(args);
    return verb switch
    {
        "serve" => await ServeCommand.RunAsync(TollboothSettings.Load(flags)),
        "replay" => ReplayCommand.Run(TollboothSettings.Load(flags)),
        "dump" => DumpCommand.Run(TollboothSettings.Load(WithoutFlag(flags, "summary", out bool summary)), summary),
        _ => Usage(verb),
    };
}
catch (Exception exception) when (exception is SettingsException or CorruptLogException or InvalidOperationException or IOException)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    return 2;
}

static int Usage(string verb)
{
    if (verb.Length > 0)
    {
        Console.Error.WriteLine($"error: unknown command '{verb}'.");
    }

    Console.Error.WriteLine("""
        usage:
          tollbooth serve [--data DIR] [--urls http://127.0.0.1:8080] [--config FILE]
          tollbooth serve --engine naive --store postgres://user@host:port/database   (the seed's naive design, for benchmarks)
          tollbooth replay --data DIR
          tollbooth dump --data DIR [--summary]   (every stored row, then a hash of them all)
        """);
    return verb.Length > 0 ? 2 : 0;
}

static Dictionary<string, string> WithoutFlag(Dictionary<string, string> flags, string name, out bool present)
{
    present = flags.Remove(name);
    return flags;
}

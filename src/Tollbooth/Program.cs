using Tollbooth;
using Tollbooth.Commands;
using Tollbooth.Loadgen;
using Tollbooth.Log;

try
{
    (string verb, Dictionary<string, string> flags) = CommandLine.Parse(args);
    return verb switch
    {
        "serve" => await ServeCommand.RunAsync(TollboothSettings.Load(Renamed(flags, "log", nameof(TollboothSettings.ClusterLog)))),
        "replay" => ReplayCommand.Run(TollboothSettings.Load(WithoutFlag(flags, "from-archive", out bool fromArchive)), fromArchive),
        "settings" => SettingsCommand.Run(TollboothSettings.Load(flags)),
        "dump" => DumpCommand.Run(TollboothSettings.Load(WithoutFlag(flags, "summary", out bool summary)), summary),
        "loadgen" => await LoadgenCommand.RunAsync(flags),
        "dev-kafka" => await DevKafkaCommand.RunAsync(flags),
        "reconcile" => ReconcileCommand.Run(TollboothSettings.Load(WithoutValue(WithoutValue(flags, "from", out string? from), "to", out string? to)), from, to),
        _ => Usage(verb),
    };
}
catch (Exception exception) when (exception is SettingsException or CorruptLogException or InvalidOperationException or IOException or InvalidDataException)
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
          tollbooth serve --role process --log kafka://HOST:PORT[,HOST:PORT...]/TOPIC --store postgres://user@host:port/database
                                                  (a cluster's process member: one of the topic's consumer group)
          tollbooth replay --data DIR [--from-archive]   (rebuild the stored rows from the log, or from the raw archive)
          tollbooth dump --data DIR [--summary]   (every stored row, then a hash of them all)
          tollbooth reconcile --data DIR [--from T] [--to T]   (stored rows against the raw archive; exit 1 on any difference)
          tollbooth settings [--config FILE]      (the settings serve would use, as JSON)
          tollbooth loadgen [--url URL] [--key KEY] [--rate N|max] [--clicks N] [--duration 30s] [--batch N]
                            [--connections N] [--seed N] [--ads N] [--no-check] [--run-id ID]
                                                  (a seeded workload, then its counts checked; exit 1 on a mismatch)
          tollbooth dev-kafka [--brokers 3] [--topic clicks] [--partitions 8]
                                                  (a Kafka-protocol cluster in this process, for development and tests)
        Any setting can be given as a flag --Section:Key value; docs/settings.md lists them all.
        """);
    return verb.Length > 0 ? 2 : 0;
}

static Dictionary<string, string> WithoutFlag(Dictionary<string, string> flags, string name, out bool present)
{
    present = flags.Remove(name);
    return flags;
}

// `--log URL` names the cluster's Kafka log; the settings' Log section is the embedded log's (`--Log:Partitions 4`).
static Dictionary<string, string> Renamed(Dictionary<string, string> flags, string name, string setting)
{
    if (flags.TryGetValue(name, out string? value) && value.Contains("://", StringComparison.Ordinal))
    {
        flags.Remove(name);
        flags[setting] = value;
    }

    return flags;
}

static Dictionary<string, string> WithoutValue(Dictionary<string, string> flags, string name, out string? value)
{
    value = flags.Remove(name, out string? found) ? found : null;
    return flags;
}

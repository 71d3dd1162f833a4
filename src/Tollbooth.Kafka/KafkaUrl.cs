namespace Tollbooth.Kafka;

/// <summary><c>kafka://HOST:PORT[,HOST:PORT...]/TOPIC</c>, the <c>--log</c> of a cluster member (API.md).</summary>
public static class KafkaUrl
{
    public static (string BootstrapServers, string Topic) Parse(string url)
    {
        const string Scheme = "kafka://";
        string usage = $"--log '{url}' is not a Kafka log: use kafka://HOST:PORT[,HOST:PORT...]/TOPIC.";
        if (!url.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException(usage);
        }

        string rest = url[Scheme.Length..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == rest.Length - 1 || rest[(slash + 1)..].Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException(usage);
        }

        string servers = rest[..slash];
        foreach (string server in servers.Split(','))
        {
            int colon = server.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(server[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            {
                throw new ArgumentException(usage);
            }
        }

        return (servers, Uri.UnescapeDataString(rest[(slash + 1)..]));
    }
}

using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Tollbooth.Kafka;

/// <summary>
/// librdkafka's built-in Kafka-protocol cluster (rdkafka_mock.h), hosted in this process on loopback: real Kafka
/// clients in any process connect to <see cref="BootstrapServers"/> as to any cluster. For trying a cluster on one
/// machine and for tests, never for production: it keeps only a few MiB a partition, and its transactions neither
/// isolate nor fence (Tollbooth does not rely on Kafka transactions). Topics with more than one partition can only be
/// made through its own API, so this calls the native library that Confluent.Kafka loaded, through P/Invoke.
/// </summary>
public sealed partial class MockKafkaCluster : IDisposable
{
    private const string Library = "librdkafka";
    private const int ProducerType = 0;

    private IntPtr _client;
    private IntPtr _cluster;

    static MockKafkaCluster()
    {
        NativeLibrary.SetDllImportResolver(typeof(MockKafkaCluster).Assembly, ResolveLibrdkafka);
    }

    private MockKafkaCluster(IntPtr client, IntPtr cluster, string bootstrapServers)
    {
        _client = client;
        _cluster = cluster;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>The brokers' addresses, <c>127.0.0.1:PORT,...</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers on loopback ports the system chooses.</summary>
    public static MockKafkaCluster Start(int brokers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        IntPtr conf = ConfNew();
        var error = new byte[512];

        // Errors only: the hosting client has no bootstrap servers of its own, which librdkafka would warn about.
        if (ConfSet(conf, "log_level", "3", error, (UIntPtr)error.Length) != 0)
        {
            ConfDestroy(conf);
            throw new InvalidOperationException($"librdkafka refused a setting of the client that hosts the mock cluster: {NativeText(error)}.");
        }

        IntPtr client = KafkaNew(ProducerType, conf, error, (UIntPtr)error.Length);
        if (client == IntPtr.Zero)
        {
            // rd_kafka_new frees the configuration only when it succeeds.
            ConfDestroy(conf);
            throw new InvalidOperationException($"librdkafka could not create the client that hosts the mock cluster: {NativeText(error)}.");
        }

        IntPtr cluster = MockClusterNew(client, brokers);
        if (cluster == IntPtr.Zero)
        {
            KafkaDestroy(client);
            throw new InvalidOperationException($"librdkafka could not start a mock cluster of {brokers} brokers.");
        }

        string bootstraps = Marshal.PtrToStringUTF8(MockClusterBootstraps(cluster)) ?? "";
        return new MockKafkaCluster(client, cluster, bootstraps);
    }

    /// <summary>Creates <paramref name="topic"/> with <paramref name="partitions"/> partitions, each on up to three brokers.</summary>
    public void CreateTopic(string topic, int partitions, int replicationFactor)
    {
        ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        int error = MockTopicCreate(_cluster, topic, partitions, replicationFactor);
        if (error != 0)
        {
            throw new InvalidOperationException($"The mock cluster could not create topic {topic} with {partitions} partitions: {new Error((ErrorCode)error).Reason}.");
        }
    }

    /// <summary>Takes broker <paramref name="brokerId"/> (1 to the broker count, or -1 for all) down: it drops its connections and takes no new ones.</summary>
    public void SetBrokerDown(int brokerId) => Check(MockBrokerSetDown(_cluster, brokerId), $"take broker {brokerId} down");

    /// <summary>Brings broker <paramref name="brokerId"/> (or -1 for all) back up.</summary>
    public void SetBrokerUp(int brokerId) => Check(MockBrokerSetUp(_cluster, brokerId), $"bring broker {brokerId} up");

    public void Dispose()
    {
        if (_cluster != IntPtr.Zero)
        {
            MockClusterDestroy(_cluster);
            _cluster = IntPtr.Zero;
        }

        if (_client != IntPtr.Zero)
        {
            KafkaDestroy(_client);
            _client = IntPtr.Zero;
        }
    }

    private static void Check(int error, string what)
    {
        if (error != 0)
        {
            throw new InvalidOperationException($"The mock cluster could not {what}: {new Error((ErrorCode)error).Reason}.");
        }
    }

    // The package ships several builds of librdkafka (one needs libsasl2.so.3, which Debian 12 lacks; a static one does
    // not) and Confluent.Kafka loads the first that works. The mock calls must bind to that same one: it is found among
    // the libraries this process has mapped once Confluent.Kafka has loaded it.
    private static IntPtr ResolveLibrdkafka(string name, System.Reflection.Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library)
        {
            return IntPtr.Zero;
        }

        _ = Confluent.Kafka.Library.Version;
        string? loaded = File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/', StringComparison.Ordinal) is int start and >= 0 ? line[start..] : "")
            .FirstOrDefault(path => Path.GetFileName(path).EndsWith("librdkafka.so", StringComparison.Ordinal));
        return loaded is null
            ? throw new DllNotFoundException("Confluent.Kafka loaded no librdkafka.so that this process maps: the mock cluster's calls have nothing to bind to.")
            : NativeLibrary.Load(loaded);
    }

    private static string NativeText(byte[] text)
    {
        int end = Array.IndexOf(text, (byte)0);
        return System.Text.Encoding.UTF8.GetString(text, 0, end < 0 ? text.Length : end);
    }

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_new")]
    private static partial IntPtr ConfNew();

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ConfSet(IntPtr conf, string name, string value, [Out] byte[] error, UIntPtr errorSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_destroy")]
    private static partial void ConfDestroy(IntPtr conf);

    [LibraryImport(Library, EntryPoint = "rd_kafka_new")]
    private static partial IntPtr KafkaNew(int type, IntPtr conf, [Out] byte[] error, UIntPtr errorSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_destroy")]
    private static partial void KafkaDestroy(IntPtr client);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_new")]
    private static partial IntPtr MockClusterNew(IntPtr client, int brokers);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_destroy")]
    private static partial void MockClusterDestroy(IntPtr cluster);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
    private static partial IntPtr MockClusterBootstraps(IntPtr cluster);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MockTopicCreate(IntPtr cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_down")]
    private static partial int MockBrokerSetDown(IntPtr cluster, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_up")]
    private static partial int MockBrokerSetUp(IntPtr cluster, int brokerId);
}

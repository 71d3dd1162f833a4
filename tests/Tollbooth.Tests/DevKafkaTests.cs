// Goal (issue 17): `tollbooth dev-kafka` is a Kafka cluster other processes use as any other: it prints its
// bootstrap servers once the topic exists with the partitions asked for, takes idempotent acks=all produce into
// every partition and gives every record back in order from offset 0, and stops cleanly on SIGTERM. Method: the real
// program in its own process; this test process is an ordinary Confluent.Kafka producer and consumer.
using Confluent.Kafka;

namespace Tollbooth.Tests;

public sealed class DevKafkaTests
{
    private const int Partitions = 4;
    private const int RecordsPerPartition = 250;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Dev_kafka_serves_a_topic_that_other_processes_produce_to_and_consume_in_order()
    {
        using var kafka = DevKafkaProcess.Start("--brokers", "3", "--topic", "dev-test", "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(3, kafka.BootstrapServers.Split(',').Length);

        var producerConfig = new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true, Acks = Acks.All, LingerMs = 5 };
        using (IProducer<Null, string> producer = new ProducerBuilder<Null, string>(producerConfig).SetLogHandler((_, _) => { }).Build())
        {
            var produced = new List<Task<DeliveryResult<Null, string>>>();
            for (int partition = 0; partition < Partitions; partition++)
            {
                for (int i = 0; i < RecordsPerPartition; i++)
                {
                    produced.Add(producer.ProduceAsync(new TopicPartition("dev-test", partition), new Message<Null, string> { Value = $"{partition}:{i}" }));
                }
            }

            DeliveryResult<Null, string>[] results = await Task.WhenAll(produced);
            Assert.All(results, result => Assert.Equal(PersistenceStatus.Persisted, result.Status));
        }

        var consumerConfig = new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "dev-test-reader", EnableAutoCommit = false };
        using IConsumer<Null, string> consumer = new ConsumerBuilder<Null, string>(consumerConfig).SetLogHandler((_, _) => { }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset("dev-test", p, Offset.Beginning)));
        var next = new int[Partitions];
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (next.Sum() < Partitions * RecordsPerPartition && deadline.Elapsed < s_deadline)
        {
            ConsumeResult<Null, string>? record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is null)
            {
                continue;
            }

            int partition = record.Partition.Value;
            Assert.Equal($"{partition}:{next[partition]}", record.Message.Value);
            Assert.Equal(next[partition], record.Offset.Value);
            next[partition]++;
        }

        Assert.All(next, count => Assert.Equal(RecordsPerPartition, count));
        Assert.Equal(0, kafka.Terminate(TimeSpan.FromSeconds(30)));
        Assert.Contains("stopped", kafka.Output);
    }

    [Fact]
    public void Dev_kafka_refuses_a_bad_partition_count_with_a_sentence()
    {
        (int exitCode, _, string stderr) = TollboothProcess.RunVerb("dev-kafka", "--partitions", "0");
        Assert.Equal(2, exitCode);
        Assert.Contains("--partitions must be a whole number from 1 to 1024", stderr);
    }
}

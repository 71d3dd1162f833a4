// Goal: concurrent appends share fsyncs (group commit) and still get exact, contiguous positions: each
// append's records sit at the positions its task returned, no gaps, no overlaps. Method: many tasks append
// seeded random batches to two partitions at once; the flusher is held for the first wave so at least that
// wave shares one fsync; then every position range is checked against what reads back.
namespace Tollbooth.Log.Tests;

public sealed class GroupCommitTests(ITestOutputHelper output) : IDisposable
{
    private const int Workers = 64;
    private const int AppendsPerWorker = 40;

    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _directory.Dispose();
    }

    [Fact]
    public async Task Concurrent_appends_share_fsyncs_and_get_contiguous_positions()
    {
        int seed = TestSeed.Next(output);
        using SegmentLog log = SegmentLog.Open(LogFixtures.Options(_directory.Path, partitions: 2, segmentBytesMax: 16 << 10));
        log.FlusherGate.Reset();
        using var firstWave = new SemaphoreSlim(0);
        Task<List<(int Partition, long First, byte[][] Batch)>>[] workers = Enumerable.Range(0, Workers)
            .Select(worker => Task.Run(() => WorkAsync(log, new Random(seed + worker), worker, firstWave)))
            .ToArray();
        for (int i = 0; i < Workers; i++)
        {
            await firstWave.WaitAsync();
        }

        log.FlusherGate.Set();
        List<(int Partition, long First, byte[][] Batch)>[] results = await Task.WhenAll(workers);

        int appendCount = Workers * AppendsPerWorker;
        Assert.True(log.FsyncCount < appendCount, $"{log.FsyncCount} fsyncs for {appendCount} appends");
        output.WriteLine($"{log.FsyncCount} fsyncs for {appendCount} appends");
        for (int partition = 0; partition < 2; partition++)
        {
            AssertContiguousAndReadBack(log, partition, results.SelectMany(r => r).Where(r => r.Partition == partition).ToList());
        }
    }

    private static async Task<List<(int Partition, long First, byte[][] Batch)>> WorkAsync(SegmentLog log, Random random, int worker, SemaphoreSlim firstWave)
    {
        var appended = new List<(int, long, byte[][])>();
        for (int i = 0; i < AppendsPerWorker; i++)
        {
            int partition = random.Next(2);
            var batch = new byte[random.Next(1, 4)][];
            for (int j = 0; j < batch.Length; j++)
            {
                batch[j] = LogFixtures.Payload(((long)worker << 32) | ((long)i << 8) | (uint)j, random.Next(8, 100), random);
            }

            Task<long> append = log.AppendAsync(partition, batch);
            if (i == 0)
            {
                firstWave.Release();
            }

            appended.Add((partition, await append, batch));
        }

        return appended;
    }

    private static void AssertContiguousAndReadBack(SegmentLog log, int partition, List<(int Partition, long First, byte[][] Batch)> appends)
    {
        appends.Sort((left, right) => left.First.CompareTo(right.First));
        List<byte[]> records = LogFixtures.ReadAll(log, partition);
        long expectedFirst = 0;
        foreach ((int _, long first, byte[][] batch) in appends)
        {
            Assert.Equal(expectedFirst, first);
            for (int j = 0; j < batch.Length; j++)
            {
                Assert.True(batch[j].AsSpan().SequenceEqual(records[(int)first + j]), $"partition {partition} position {first + j} differs");
            }

            expectedFirst += batch.Length;
        }

        Assert.Equal(expectedFirst, records.Count);
        Assert.Equal(expectedFirst, log.DurableEnd(partition));
    }
}

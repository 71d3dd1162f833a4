using BenchmarkDotNet.Attributes;
using Tollbooth.Log;

namespace Tollbooth.Microbench;

/// <summary>
/// Appending encoded click records to the embedded log and waiting until they are durable, as ingest does for a
/// request: <see cref="SegmentLog.AppendRecords"/> of one partition's records back to back, from several requests at
/// once so they share a group commit (pwrite, one fdatasync), each awaited. 8,000 records an invocation, as 80
/// appends of 100 records or 8 of 1,000. The time per click is the disk's (an fsync shared by the group); the point is
/// the bytes allocated per click: what remains is per append (its task), not per record.
/// </summary>
[MemoryDiagnoser]
public class LogAppendBenchmark
{
    private const int RecordsPerInvoke = 8_000;

    private string _directory = "";
    private SegmentLog _log = null!;
    private PartitionRecords[] _batches = [];
    private Task<long>[] _appended = [];

    [Params(100, 1_000)]
    public int RecordsPerAppend { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "tollbooth-microbench-log-" + Guid.NewGuid().ToString("N"));
        _log = SegmentLog.Open(new SegmentLogOptions
        {
            Directory = _directory,
            PartitionCount = 1,
            SegmentBytesMax = 64L << 20,
            PendingBytesMax = 64L << 20,
            RecordBytesMax = 1 << 20,
            Retention = TimeSpan.Zero,
        });
        var stream = new ClickStream(RecordsPerInvoke);
        int appends = RecordsPerInvoke / RecordsPerAppend;
        _batches = new PartitionRecords[appends];
        _appended = new Task<long>[appends];
        for (int i = 0; i < appends; i++)
        {
            _batches[i] = stream.Batch(0, i * RecordsPerAppend, RecordsPerAppend);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _log.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = RecordsPerInvoke)]
    public async Task AppendAndCommit()
    {
        Append();
        long end = 0;
        foreach (Task<long> appended in _appended)
        {
            end = await appended;
        }

        // Every record is read (in this benchmark: by nobody), so retention deletes the closed segments as it would.
        _log.ReleaseBelow(0, end);
    }

    private void Append()
    {
        for (int i = 0; i < _batches.Length; i++)
        {
            _appended[i] = _log.AppendRecords(new ReadOnlySpan<PartitionRecords>(in _batches[i]))[0];
        }
    }
}

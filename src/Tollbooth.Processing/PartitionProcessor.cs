using System.Diagnostics;
using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Processing;

/// <summary>
/// Reads one partition of the log in order on its own thread, applies every click to the
/// partition's <see cref="PartitionAggregator"/>, and commits the changed rows together with the
/// next position (I3), through a <see cref="PartitionWork"/>: it commits when the log goes quiet, every
/// <see cref="ProcessorOptions.CommitEventsMax"/> records and every <see cref="ProcessorOptions.CommitIntervalMs"/>.
/// On start it resumes from the committed checkpoint: positions below it are re-read only to rebuild the dedup
/// index and the watermark (I4), never counted again.
/// </summary>
public sealed class PartitionProcessor : IDisposable
{
    private readonly IClickLog _log;
    private readonly ProcessorOptions _options;
    private readonly Action<int, Exception> _onFailure;
    private readonly PartitionWork _work;
    private readonly CancellationTokenSource _stop = new();
    private readonly ManualResetEventSlim _recovered = new();
    private Thread? _thread;

    /// <summary>The number of <see cref="Verdict"/> values (0, 1, ...), for per-verdict counters.</summary>
    public static readonly int VerdictCount = Enum.GetValues<Verdict>().Length;

    public PartitionProcessor(
        int partition,
        IClickLog log,
        IPartitionStore store,
        AggregatorOptions aggregatorOptions,
        ProcessorOptions options,
        Action<int, Exception> onFailure)
    {
        Partition = partition;
        _log = log;
        _options = options;
        _onFailure = onFailure;
        _work = new PartitionWork(partition, log, store, aggregatorOptions, options);
    }

    public int Partition { get; }

    /// <summary>Every position below this is reflected in the stored rows.</summary>
    public long CommittedPosition => _work.CommittedPosition;

    /// <summary>The partition watermark as of the last commit, epoch ms; <see cref="long.MinValue"/> before any click.</summary>
    public long WatermarkMs => _work.WatermarkMs;

    public long MaxEventTimeMs => _work.MaxEventTimeMs;

    /// <summary>Processing time of the last commit that counted new clicks; <see cref="long.MinValue"/> before one.</summary>
    public long LastActiveAtMs => _work.LastActiveAtMs;

    public bool IsRecovered => _recovered.IsSet;

    /// <summary>True once the processor stopped because another owner claimed its partition.</summary>
    public bool IsFenced { get; private set; }

    /// <summary>Clicks with this verdict committed by this processor since the process started (replays of positions below the checkpoint not included).</summary>
    public long CommittedVerdicts(Verdict verdict) => _work.CommittedVerdicts(verdict);

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = $"tollbooth-partition-{Partition:D2}" };
        _thread.Start();
    }

    /// <summary>Blocks until recovery finished (or the deadline passed); true when recovered.</summary>
    public bool WaitRecovered(TimeSpan timeout) => _recovered.Wait(timeout);

    /// <summary>Asks the processor to commit what it applied and stop; waits for its thread.</summary>
    public void Stop()
    {
        _stop.Cancel();
        _thread?.Join();
    }

    public void Dispose()
    {
        Stop();
        _work.Dispose();
        _stop.Dispose();
        _recovered.Dispose();
    }

    private void Run()
    {
        try
        {
            _work.Recover();
            _recovered.Set();
            ProcessUntilStopped();
            _work.Finish();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (PartitionFencedException fenced)
        {
            // Another member owns the partition now (a rebalance this member heard of late, or never): it carries on
            // from the store; nothing this processor applied since its last commit was written, and it stops here.
            IsFenced = true;
            _options.Warn?.Invoke(fenced.Message);
        }
        catch (Exception exception)
        {
            _onFailure(Partition, exception);
        }
    }

    private void ProcessUntilStopped()
    {
        var sinceCommit = Stopwatch.StartNew();
        while (!_stop.IsCancellationRequested)
        {
            int count = _work.ApplyAvailable();
            bool idle = count == 0;
            if (_work.AppliedSinceCommit > 0 &&
                (idle || _work.AppliedSinceCommit >= _options.CommitEventsMax || sinceCommit.ElapsedMilliseconds >= _options.CommitIntervalMs))
            {
                _work.Commit();
                sinceCommit.Restart();
            }

            if (idle)
            {
                WaitForRecords(_work.ReadPosition);
            }
        }

        if (_work.AppliedSinceCommit > 0)
        {
            _work.Commit();
        }
    }

    private void WaitForRecords(long position)
    {
        // A token per wait, so an idle partition leaves no registration behind on the log's signal.
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        wait.CancelAfter(_options.CommitIntervalMs);
        try
        {
            // GetResult, not Wait: a failed log surfaces as itself, not wrapped in an AggregateException.
            _log.WaitForDurableAsync(Partition, position, wait.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested)
        {
        }
    }
}

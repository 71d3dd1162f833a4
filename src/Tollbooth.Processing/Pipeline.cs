using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Processing;

/// <summary>
/// The partition processors of this process: every partition of the log on one machine, or those a consumer group
/// assigned to this member, given and taken while running (<see cref="Assign"/>, <see cref="Revoke"/>). Readers get
/// a consistent list of the processors at the moment they ask (copy on write).
/// </summary>
public sealed class Pipeline : IDisposable
{
    private readonly IClickLog _log;
    private readonly IPartitionStore _store;
    private readonly AggregatorOptions _aggregatorOptions;
    private readonly ProcessorOptions _options;
    private readonly Action<int, Exception> _onFailure;
    private readonly object _lock = new();

    // Verdicts committed by processors revoked since the start, so the process's counters never go back.
    private readonly long[] _revokedVerdicts = new long[PartitionProcessor.VerdictCount];
    private volatile PartitionProcessor[] _processors;
    private bool _started;

    /// <param name="partitions">The partitions to process; null for every partition of the log.</param>
    public Pipeline(IClickLog log, IPartitionStore store, AggregatorOptions aggregatorOptions, ProcessorOptions options, Action<int, Exception> onFailure, IEnumerable<int>? partitions = null)
    {
        _log = log;
        _store = store;
        _aggregatorOptions = aggregatorOptions;
        _options = options;
        _onFailure = onFailure;
        _processors = (partitions ?? Enumerable.Range(0, log.PartitionCount)).Distinct().Order().Select(NewProcessor).ToArray();
    }

    /// <summary>The processors of the partitions assigned now, in partition order.</summary>
    public IReadOnlyList<PartitionProcessor> Processors => _processors;

    /// <summary>The partitions of the log, assigned here or not.</summary>
    public int PartitionCount => _log.PartitionCount;

    public void Start()
    {
        lock (_lock)
        {
            _started = true;
            foreach (PartitionProcessor processor in _processors)
            {
                processor.Start();
            }
        }
    }

    /// <summary>
    /// Starts processing <paramref name="partition"/> here (started at once when the pipeline runs): its processor
    /// claims it in the store, fencing any earlier owner, and resumes from its checkpoint. False when it is here already.
    /// </summary>
    public bool Assign(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, _log.PartitionCount);
        lock (_lock)
        {
            if (Array.Exists(_processors, p => p.Partition == partition))
            {
                return false;
            }

            PartitionProcessor processor = NewProcessor(partition);
            if (_started)
            {
                processor.Start();
            }

            _processors = [.. _processors.Append(processor).OrderBy(p => p.Partition)];
            return true;
        }
    }

    /// <summary>
    /// Stops processing <paramref name="partition"/> here: its processor commits what it applied and stops (a
    /// cooperative revoke). False when it was not here.
    /// </summary>
    public bool Revoke(int partition)
    {
        PartitionProcessor? revoked;
        lock (_lock)
        {
            revoked = Array.Find(_processors, p => p.Partition == partition);
            if (revoked is null)
            {
                return false;
            }

            _processors = Array.FindAll(_processors, p => p.Partition != partition);
            revoked.Dispose();
            for (int verdict = 0; verdict < _revokedVerdicts.Length; verdict++)
            {
                Interlocked.Add(ref _revokedVerdicts[verdict], revoked.CommittedVerdicts((Verdict)verdict));
            }
        }

        return true;
    }

    /// <summary>Clicks with this verdict committed by this process since it started, revoked partitions included.</summary>
    public long CommittedVerdicts(Verdict verdict)
    {
        lock (_lock)
        {
            long sum = Volatile.Read(ref _revokedVerdicts[(int)verdict]);
            foreach (PartitionProcessor processor in _processors)
            {
                sum += processor.CommittedVerdicts(verdict);
            }

            return sum;
        }
    }

    public bool WaitRecovered(TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        foreach (PartitionProcessor processor in _processors)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left < TimeSpan.Zero || !processor.WaitRecovered(left))
            {
                return false;
            }
        }

        return true;
    }

    public bool IsRecovered => Array.TrueForAll(_processors, p => p.IsRecovered);

    /// <summary>Positions durable in the log, summed over the partitions assigned here.</summary>
    public long Ingested
    {
        get
        {
            long sum = 0;
            foreach (PartitionProcessor processor in _processors)
            {
                sum += _log.DurableEnd(processor.Partition);
            }

            return sum;
        }
    }

    /// <summary>Positions reflected in the stored rows, summed over the partitions assigned here.</summary>
    public long Processed
    {
        get
        {
            long sum = 0;
            foreach (PartitionProcessor processor in _processors)
            {
                sum += processor.CommittedPosition;
            }

            return sum;
        }
    }

    /// <summary>True once every durable record of every partition assigned here is committed.</summary>
    public bool IsCaughtUp()
    {
        foreach (PartitionProcessor processor in _processors)
        {
            if (processor.CommittedPosition < _log.DurableEnd(processor.Partition))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The global watermark over every partition that has seen clicks, idle or not; null when none has.</summary>
    public long? GlobalWatermarkMs() => GlobalWatermarkMs(long.MaxValue, 0);

    /// <summary>
    /// The watermark readers see: the minimum over partitions that counted clicks in the last
    /// <paramref name="idleTimeoutMs"/> before <paramref name="nowMs"/>, so quiet partitions do not hold windows
    /// open; the highest of all when every partition is quiet; null when none has seen a click.
    /// It moves the closed and final flags readers see, never a count.
    /// </summary>
    public long? GlobalWatermarkMs(long nowMs, long idleTimeoutMs)
    {
        long? activeMinimum = null;
        long? highest = null;
        foreach (PartitionProcessor processor in _processors)
        {
            long watermark = processor.WatermarkMs;
            if (watermark == long.MinValue)
            {
                continue;
            }

            highest = highest is null || watermark > highest ? watermark : highest;
            bool active = nowMs == long.MaxValue || processor.LastActiveAtMs >= nowMs - idleTimeoutMs;
            if (active && (activeMinimum is null || watermark < activeMinimum))
            {
                activeMinimum = watermark;
            }
        }

        return activeMinimum ?? highest;
    }

    public void Stop()
    {
        foreach (PartitionProcessor processor in _processors)
        {
            processor.Stop();
        }
    }

    public void Dispose()
    {
        foreach (PartitionProcessor processor in _processors)
        {
            processor.Dispose();
        }
    }

    private PartitionProcessor NewProcessor(int partition) => new(partition, _log, _store, _aggregatorOptions, _options, _onFailure);
}

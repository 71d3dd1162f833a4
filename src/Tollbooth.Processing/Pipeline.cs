using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Processing;

/// <summary>One processor per partition of the log, started and stopped together.</summary>
public sealed class Pipeline : IDisposable
{
    private readonly IClickLog _log;
    private readonly PartitionProcessor[] _processors;

    public Pipeline(IClickLog log, IAggregateStore store, AggregatorOptions aggregatorOptions, ProcessorOptions options, Action<int, Exception> onFailure)
    {
        _log = log;
        _processors = new PartitionProcessor[log.PartitionCount];
        for (int partition = 0; partition < _processors.Length; partition++)
        {
            _processors[partition] = new PartitionProcessor(partition, log, store, aggregatorOptions, options, onFailure);
        }
    }

    public IReadOnlyList<PartitionProcessor> Processors => _processors;

    public void Start()
    {
        foreach (PartitionProcessor processor in _processors)
        {
            processor.Start();
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

    /// <summary>Positions durable in the log, summed over partitions.</summary>
    public long Ingested
    {
        get
        {
            long sum = 0;
            for (int partition = 0; partition < _processors.Length; partition++)
            {
                sum += _log.DurableEnd(partition);
            }

            return sum;
        }
    }

    /// <summary>Positions reflected in the stored rows, summed over partitions.</summary>
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

    /// <summary>True once every durable record of every partition is committed.</summary>
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
}

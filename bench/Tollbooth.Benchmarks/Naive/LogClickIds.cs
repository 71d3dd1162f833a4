using Tollbooth.Core;
using Tollbooth.Log;

namespace Tollbooth.Benchmarks.Naive;

/// <summary>The click ids in a stopped Tollbooth's log: what survived, to compare with what was acknowledged.</summary>
public static class LogClickIds
{
    public static HashSet<string> Read(string dataDirectory, int partitions = 8)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        using SegmentLog log = SegmentLog.Open(new SegmentLogOptions { Directory = Path.Combine(dataDirectory, "log"), PartitionCount = partitions, Warn = _ => { } });
        var batch = new LogReadBatch();
        for (int partition = 0; partition < partitions; partition++)
        {
            using ILogReader reader = log.OpenReader(partition, 0);
            while (reader.Read(batch) > 0)
            {
                for (int i = 0; i < batch.Count; i++)
                {
                    ids.Add(ClickCodec.Decode(batch[i]).ClickId);
                }
            }
        }

        return ids;
    }
}

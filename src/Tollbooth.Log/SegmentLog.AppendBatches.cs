namespace Tollbooth.Log;

/// <summary>The two forms of an all-or-none append's batches, as <see cref="AppendAllOrNone"/> sees them.</summary>
public sealed partial class SegmentLog
{
    /// <summary>One all-or-none append's batches: where each goes, its framed size (checked), and its copy into a partition.</summary>
    private interface IAppendBatches
    {
        int Count { get; }

        int PartitionOf(int batch);

        /// <summary>The batch's framed bytes; throws <see cref="ArgumentException"/> for a batch the log refuses.</summary>
        int FrameBytesOf(SegmentLog log, int batch);

        /// <summary>Copies the batch into <paramref name="target"/>'s pending group commit; the caller holds its lock.</summary>
        void AppendLocked(LogPartition target, int batch, int frameBytes, TaskCompletionSource<long> completion);
    }

    /// <summary><see cref="AppendAll"/>'s batches: a list of payload arrays per partition.</summary>
    private readonly struct PayloadBatches(IReadOnlyList<PartitionBatch> batches) : IAppendBatches
    {
        public int Count => batches.Count;

        public int PartitionOf(int batch) => batches[batch].Partition;

        public int FrameBytesOf(SegmentLog log, int batch) => log.FrameBytesOf(batches[batch].Payloads);

        public void AppendLocked(LogPartition target, int batch, int frameBytes, TaskCompletionSource<long> completion) =>
            target.AppendLocked(batches[batch].Payloads, frameBytes, completion);
    }

    /// <summary><see cref="AppendRecords"/>' batches: records back to back in one buffer per partition.</summary>
    private readonly ref struct RecordBatches(ReadOnlySpan<PartitionRecords> batches) : IAppendBatches
    {
        private readonly ReadOnlySpan<PartitionRecords> _batches = batches;

        public int Count => _batches.Length;

        public int PartitionOf(int batch) => _batches[batch].Partition;

        public int FrameBytesOf(SegmentLog log, int batch) => log.FrameBytesOf(in _batches[batch]);

        public void AppendLocked(LogPartition target, int batch, int frameBytes, TaskCompletionSource<long> completion) =>
            target.AppendRecordsLocked(_batches[batch].Records.Span, _batches[batch].Lengths.Span, frameBytes, completion);
    }
}

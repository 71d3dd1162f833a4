namespace Tollbooth.Log;

/// <summary>
/// A partition as recovery left it: its verified segments, the position after its last record, and the
/// last segment opened for appending at <see cref="ActiveBytes"/>.
/// </summary>
internal sealed record RecoveredPartition(Segment[] Segments, long EndPosition, ILogFile ActiveFile, long ActiveBytes);

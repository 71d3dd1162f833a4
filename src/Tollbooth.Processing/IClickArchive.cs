using Tollbooth.Core;

namespace Tollbooth.Processing;

/// <summary>
/// The raw archive: every click with its verdict, each log position exactly once (I6). A partition's
/// processor is the only caller for that partition; positions arrive in increasing order.
/// </summary>
public interface IClickArchive
{
    /// <summary>
    /// Every position of the partition below this is archived durably. Call once, at recovery: it also
    /// removes what an unfinished flush left behind.
    /// </summary>
    long ArchivedEnd(int partition);

    /// <summary>Adds the click of a log record (<see cref="ClickCodec"/>'s bytes, copied) with its verdict.</summary>
    void Add(int partition, long position, ReadOnlySpan<byte> record, ClickOutcome outcome);

    /// <summary>True when the partition's buffered clicks should be flushed now (size or age).</summary>
    bool FlushDue(int partition);

    /// <summary>Writes the buffered clicks durably; afterwards every added position is archived.</summary>
    void Flush(int partition);
}

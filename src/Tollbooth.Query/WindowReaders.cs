using Tollbooth.Processing;

namespace Tollbooth.Query;

/// <summary>Which reader answers a filter: the stored rows, or the raw archive for user and IP filters.</summary>
public static class WindowReaders
{
    public static IWindowReader For(DimensionFilter filter, IWindowReader store, IWindowReader? rawEvents) =>
        !filter.NeedsRawEvents ? store
            : rawEvents ?? throw new InvalidOperationException("A user_id or ip filter needs the raw archive, and this server has none.");
}

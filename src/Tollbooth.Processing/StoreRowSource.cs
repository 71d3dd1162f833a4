using Tollbooth.Core;

namespace Tollbooth.Processing;

/// <summary>Loads rows the aggregator evicted, from the store's committed state.</summary>
internal sealed class StoreRowSource(IPartitionStore store, int partition) : IWindowRowSource
{
    public WindowRow? Load(WindowKey key) => store.ReadRow(partition, key);
}

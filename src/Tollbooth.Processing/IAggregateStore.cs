using Tollbooth.Core;

namespace Tollbooth.Processing;

/// <summary>
/// Where window rows live: what a partition processor needs (<see cref="IPartitionStore"/>), the reads behind the
/// queries (<see cref="IWindowReader"/>) and the ones behind tenancy, the changes feed and audits.
/// Implementations are thread-safe: every partition processor commits on its own thread while queries read.
/// </summary>
public interface IAggregateStore : IPartitionStore, IWindowReader, IDisposable
{
    /// <summary>The advertiser owning the ad in the stored rows, or null when the store has no row of it.</summary>
    string? FindAdvertiserOfAd(string adId);

    /// <summary>True when the store holds any row of the ad, campaign or advertiser (within <paramref name="advertiserId"/> when not null).</summary>
    bool HasRows(WindowScope scope, string id, string? advertiserId);

    /// <summary>
    /// Up to <paramref name="limit"/> advertiser ids that have stored rows, in ordinal order; only
    /// <paramref name="advertiserId"/> itself (when it has rows) when not null.
    /// </summary>
    IReadOnlyList<string> AdvertiserIds(string? advertiserId, int limit);

    /// <summary>
    /// Up to <paramref name="limit"/> published window changes with a sequence at or after
    /// <paramref name="nextSequences"/>[partition], ordered by sequence then partition; only the
    /// advertiser's when <paramref name="advertiserId"/> is not null.
    /// </summary>
    IReadOnlyList<StoredChange> ReadChanges(IReadOnlyList<long> nextSequences, int limit, string? advertiserId);

    /// <summary>The rows of every partition with a minute in <c>[fromMinute, toMinute)</c>: for audits of a range.</summary>
    IReadOnlyList<(int Partition, WindowRow Row)> ReadRowsBetween(long fromMinute, long toMinute);

    /// <summary>Every row of every partition, ordered by partition and key: for replay comparisons and audits.</summary>
    IReadOnlyList<(int Partition, WindowRow Row)> ReadAllRows();

    /// <summary>Deletes every row and checkpoint (before a replay).</summary>
    void Clear();
}

/// <summary>
/// A partition's state as its processor sees it: the checkpoint, the rows it may change, and the commit that writes a
/// partition's changed rows (absolute values, I2) and its checkpoint in one transaction (I3), fenced by the owner's
/// lease: either all of a commit is visible after a crash or none of it, and none of it when the lease is superseded.
/// </summary>
public interface IPartitionStore
{
    /// <summary>
    /// Makes the caller the partition's owner: returns a lease with a new epoch, higher than any before it, and from
    /// now on refuses commits made with any earlier lease of the partition. Durable before it returns; epochs survive
    /// <see cref="IAggregateStore.Clear"/>.
    /// </summary>
    PartitionLease Claim(int partition);

    /// <summary>The partition's committed checkpoint, or <see cref="PartitionCheckpoint.Empty"/> when it never committed.</summary>
    PartitionCheckpoint ReadCheckpoint(int partition);

    /// <summary>
    /// All rows of a partition whose minute is at least <paramref name="fromMinute"/>, and those with an
    /// unpublished change (<see cref="WindowRow.Pending"/>): what a restarted processor holds in memory.
    /// </summary>
    IReadOnlyList<WindowRow> ReadRows(int partition, long fromMinute);

    /// <summary>One row of a partition, or null when it was never written.</summary>
    WindowRow? ReadRow(int partition, WindowKey key);

    /// <summary>
    /// Upserts <paramref name="rows"/> of the checkpoint's partition, appends its published window
    /// <paramref name="changes"/> and sets its checkpoint, in one transaction; throws
    /// <see cref="PartitionFencedException"/>, having written nothing, when <paramref name="lease"/> is not the
    /// partition's newest.
    /// </summary>
    void Commit(PartitionLease lease, PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes);
}

/// <summary>
/// The reads behind the queries: the stored rows answer them, and so does the raw archive (for the filters
/// only raw events can answer).
/// </summary>
public interface IWindowReader
{
    /// <summary>
    /// Sum of valid clicks of one ad over minutes <c>[fromMinute, toMinute)</c>, with the filter's
    /// dimensions ANDed; restricted to <paramref name="advertiserId"/> when not null.
    /// </summary>
    long SumClicks(string adId, long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId);

    /// <summary>Per-minute sums of the selected rows (split by <paramref name="breakdown"/>), in minute then group order.</summary>
    IReadOnlyList<MinuteTotals> ReadMinuteTotals(WindowSelector selector, Breakdown breakdown);

    /// <summary>
    /// For every partition, its <paramref name="count"/> ads with most valid clicks in minutes
    /// <c>[fromMinute, toMinute)</c>, ties by ad id (ads without a valid click left out): the map step of
    /// top N, in one read; the caller merges the partitions' lists.
    /// </summary>
    IReadOnlyList<(int Partition, AdTotal Ad)> TopAdsPerPartition(long fromMinute, long toMinute, DimensionFilter filter, string? advertiserId, int count);
}

/// <summary>
/// The filters of a query; null means "any". The first four are pre-aggregated (the stored rows answer
/// them); <see cref="UserId"/> and <see cref="IpHash"/> (the keyed hash of the IP) only raw events can answer.
/// </summary>
public readonly record struct DimensionFilter(string? CampaignId, string? PublisherId, string? Country, Device? Device, string? UserId = null, string? IpHash = null)
{
    public static DimensionFilter None => default;

    public bool NeedsRawEvents => UserId is not null || IpHash is not null;
}

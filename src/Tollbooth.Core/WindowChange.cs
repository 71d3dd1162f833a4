namespace Tollbooth.Core;

/// <summary>
/// One published change of a window row, for the changes feed: the row as it stood when its status or
/// numbers changed. <see cref="Sequence"/> counts the partition's changes from 0; the same log and
/// configuration give the same sequence of changes (I5).
/// </summary>
public sealed record WindowChange(int Partition, long Sequence, WindowRow Row);

/// <summary>Valid clicks and spend a window row gained in one commit: processing-time activity for the realtime view.</summary>
public readonly record struct RecentClicks(WindowKey Key, long Clicks, long SpendMicros);

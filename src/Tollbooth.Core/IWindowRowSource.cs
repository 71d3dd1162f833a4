namespace Tollbooth.Core;

/// <summary>
/// Gives the aggregator a committed row it no longer holds in memory (a too-late or very late click
/// touching an old window). Answers with the store's committed value, which is current because a row
/// leaves memory only once committed.
/// </summary>
public interface IWindowRowSource
{
    WindowRow? Load(WindowKey key);
}

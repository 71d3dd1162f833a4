namespace Tollbooth.Processing;

/// <summary>
/// A window reader that keeps whole UTC hours pre-rolled. Its totals equal <see cref="IWindowReader.ReadMinuteTotals"/>'s
/// summed over the same minutes, exactly (numbers summed, users merged, least and most status, revisions summed),
/// so a caller whose windows are unions of whole UTC hours may ask for these instead and gets the same answers
/// from far fewer entries.
/// </summary>
public interface IHourTotalsReader
{
    /// <summary>
    /// The selected rows' totals in minute order, with no breakdown: an entry whose <see cref="MinuteTotals.Minute"/>
    /// is a multiple of 60 may stand for the whole UTC hour <c>[Minute, Minute + 60)</c>; any other entry is one
    /// minute. Only selectors whose filter the stored rows answer and whose range starts and ends on whole hours.
    /// </summary>
    IReadOnlyList<MinuteTotals> ReadHourTotals(WindowSelector selector);
}

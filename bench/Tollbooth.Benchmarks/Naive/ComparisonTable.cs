using System.Globalization;
using System.Text;

namespace Tollbooth.Benchmarks.Naive;

/// <summary>Rows with Tollbooth, the naive design and the ceiling side by side, and Tollbooth's ratio to each.</summary>
public sealed class ComparisonTable
{
    private readonly List<string> _rows = new();

    /// <summary>A measured figure; ratios say how many times better Tollbooth is (higher or lower figures being better).</summary>
    public void Add(string what, double tollbooth, double naive, double? ceiling, string unit, bool higherIsBetter = true)
    {
        string VersusNaive() => higherIsBetter ? Ratio(tollbooth / naive) : Ratio(naive / tollbooth);
        string VersusCeiling() => ceiling is double c ? (higherIsBetter ? Ratio(tollbooth / c) : Ratio(c / tollbooth)) : "";
        Line(what, Format(tollbooth, unit), Format(naive, unit), ceiling is double value ? Format(value, unit) : "", VersusNaive(), VersusCeiling());
    }

    /// <summary>A row of text figures (latencies, counts) with no ratio.</summary>
    public void Text(string what, string tollbooth, string naive, string ceiling = "") => Line(what, tollbooth, naive, ceiling, "", "");

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine("| measurement | Tollbooth | naive (sync SQL per click) | ceiling (bare Kestrel) | Tollbooth vs naive | Tollbooth vs ceiling |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (string row in _rows)
        {
            text.AppendLine(row);
        }

        return text.ToString();
    }

    private void Line(string what, string tollbooth, string naive, string ceiling, string versusNaive, string versusCeiling)
    {
        _rows.Add($"| {what} | {tollbooth} | {naive} | {ceiling} | {versusNaive} | {versusCeiling} |");
        Console.WriteLine($"  {what}: Tollbooth {tollbooth}, naive {naive}{(ceiling.Length > 0 ? ", ceiling " + ceiling : "")}");
    }

    private static string Ratio(double ratio) => double.IsFinite(ratio) ? ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";

    private static string Format(double value, string unit) => value >= 100
        ? value.ToString("N0", CultureInfo.InvariantCulture) + " " + unit
        : value.ToString("0.00", CultureInfo.InvariantCulture) + " " + unit;
}

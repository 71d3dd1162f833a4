using System.Globalization;
using System.Text;

namespace Tollbooth.Benchmarks;

/// <summary>One row per measurement: Tollbooth's figure, the baseline measured in the same run, and their ratio.</summary>
public sealed class ResultTable
{
    private readonly List<(string What, string Tollbooth, string Baseline, string BaselineName, string Ratio)> _rows = new();

    public void Add(string what, double tollbooth, double baseline, string baselineName, string unit, bool higherIsBetter = true)
    {
        double ratio = higherIsBetter ? tollbooth / baseline : baseline / tollbooth;
        _rows.Add((what, Format(tollbooth, unit), Format(baseline, unit), baselineName, ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x"));
        Console.WriteLine($"  {what}: {Format(tollbooth, unit)} vs {baselineName} {Format(baseline, unit)}");
    }

    private readonly List<(string Title, string Markdown)> _sections = new();

    public void Note(string what, string value) => _rows.Add((what, value, "", "", ""));

    /// <summary>A table of its own (with other columns), printed after the main one.</summary>
    public void Section(string title, string markdown) => _sections.Add((title, markdown));

    public string ToMarkdown(string machine)
    {
        var text = new StringBuilder();
        text.AppendLine($"Machine: {machine}").AppendLine();
        text.AppendLine("| measurement | Tollbooth | baseline | baseline is | Tollbooth vs baseline (higher is better for Tollbooth) |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var row in _rows)
        {
            text.AppendLine($"| {row.What} | {row.Tollbooth} | {row.Baseline} | {row.BaselineName} | {row.Ratio} |");
        }

        foreach ((string title, string markdown) in _sections)
        {
            text.AppendLine().AppendLine($"### {title}").AppendLine().Append(markdown);
        }

        return text.ToString();
    }

    private static string Format(double value, string unit) => value >= 100
        ? value.ToString("N0", CultureInfo.InvariantCulture) + " " + unit
        : value.ToString("0.00", CultureInfo.InvariantCulture) + " " + unit;
}

using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Tollbooth.Microbench;

/// <summary>
/// Bytes allocated per operation (per click: every benchmark here sets <c>OperationsPerInvoke</c> to its clicks) with
/// two decimals. BenchmarkDotNet's Allocated column divides whole bytes by operations and so shows 0 B for a cost that
/// is real but under a byte per click, such as one task per append of a thousand records: this column shows it.
/// </summary>
public sealed class AllocatedPerClickColumn : IColumn
{
    public string Id => nameof(AllocatedPerClickColumn);

    public string ColumnName => "B/click";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Metric;

    public int PriorityInCategory => 10;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Bytes allocated per click, all threads, to two decimals";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        BenchmarkReport? report = summary[benchmarkCase];
        if (report is null || report.GcStats.TotalOperations == 0)
        {
            return "?";
        }

        long? bytes = report.GcStats.GetTotalAllocatedBytes(excludeAllocationQuantumSideEffects: false);
        return bytes is long total ? (total / (double)report.GcStats.TotalOperations).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) : "?";
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}

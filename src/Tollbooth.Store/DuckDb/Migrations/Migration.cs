namespace Tollbooth.Store;

/// <summary>
/// One step of the DuckDB schema: <see cref="Sql"/> runs once, in one transaction with the row that records
/// <see cref="Version"/> in <c>schema_version</c>. Versions count up from 1 without gaps.
/// </summary>
internal sealed record Migration(int Version, string Description, string Sql);

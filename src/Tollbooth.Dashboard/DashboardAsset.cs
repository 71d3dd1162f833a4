namespace Tollbooth.Dashboard;

/// <summary>One file of the dashboard: its bytes, its media type and an entity tag derived from the bytes.</summary>
public sealed record DashboardAsset(string Name, byte[] Content, string ContentType, string ETag);

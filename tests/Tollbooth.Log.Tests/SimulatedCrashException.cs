namespace Tollbooth.Log.Tests;

/// <summary>The simulated process died at this operation; every call it makes after throws this too.</summary>
public sealed class SimulatedCrashException(long operation) : Exception($"The simulated process crashed at file-system operation {operation}.");

using System.Globalization;

namespace Tollbooth.Log.Tests;

/// <summary>The seed of a randomized test: TOLLBOOTH_TEST_SEED when set, else fresh; the test prints it so a failure replays.</summary>
public static class TestSeed
{
    public static int Next(ITestOutputHelper output)
    {
        string? fixedSeed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED");
        int seed = fixedSeed is not null ? int.Parse(fixedSeed, CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (replay with TOLLBOOTH_TEST_SEED={seed})");
        return seed;
    }
}

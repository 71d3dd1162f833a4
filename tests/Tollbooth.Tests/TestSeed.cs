namespace Tollbooth.Tests;

/// <summary>The seed of a randomized test: TOLLBOOTH_TEST_SEED when set, else fresh; always printed on failure.</summary>
public static class TestSeed
{
    public static int Next()
    {
        string? fixedSeed = Environment.GetEnvironmentVariable("TOLLBOOTH_TEST_SEED");
        return fixedSeed is not null ? int.Parse(fixedSeed, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
    }
}

using Tollbooth.Core;

namespace Tollbooth.Store.Tests;

/// <summary>Window rows for store tests, made from a seeded random source, and an exact comparison of two rows.</summary>
public static class TestRows
{
    public static readonly string[] Countries = ["", "DE", "US", "FR"];

    /// <summary>A row with consistent counters (received = valid + duplicate + invalid + too late) and <paramref name="users"/> distinct users.</summary>
    public static WindowRow Make(Random random, WindowKey key, int users)
    {
        var row = new WindowRow(key)
        {
            Clicks = random.Next(0, 1_000_000),
            SpendMicros = random.NextInt64(0, long.MaxValue / 4),
            DuplicateClicks = random.Next(0, 1000),
            InvalidBadToken = random.Next(0, 1000),
            InvalidBot = random.Next(0, 1000),
            InvalidRate = random.Next(0, 1000),
            InvalidUnsigned = random.Next(0, 1000),
            TooLate = random.Next(0, 1000),
        };
        row.LateClicks = random.NextInt64(0, row.Clicks + 1);
        row.Received = row.Clicks + row.DuplicateClicks + row.InvalidClicks + row.TooLate;
        for (int i = 0; i < users; i++)
        {
            row.Users.AddHash((ulong)random.NextInt64(long.MinValue, long.MaxValue));
        }

        return row;
    }

    /// <summary>A row with the given valid clicks and nothing else, for query tests.</summary>
    public static WindowRow WithClicks(WindowKey key, long clicks)
    {
        return new WindowRow(key) { Clicks = clicks, Received = clicks };
    }

    /// <summary><paramref name="count"/> rows of distinct keys spread over the dimensions; about one in ten has a dense sketch.</summary>
    public static List<WindowRow> Many(Random random, int count, string adPrefix = "ad")
    {
        var rows = new List<WindowRow>(count);
        for (int i = 0; i < count; i++)
        {
            var key = new WindowKey(
                28_000_000 + (i / 40),
                adPrefix + (i % 40),
                "adv" + (i % 40 % 7),
                "camp" + (i % 3),
                "pub" + (i % 5),
                Countries[i % Countries.Length],
                (Device)(i % 6));
            int users = random.Next(10) == 0 ? random.Next(HyperLogLog.SparseMax + 1, 5000) : random.Next(0, 40);
            rows.Add(Make(random, key, users));
        }

        return rows;
    }

    public static void AssertSame(WindowRow expected, WindowRow? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Key, actual.Key);
        Assert.Equal(expected.Received, actual.Received);
        Assert.Equal(expected.Clicks, actual.Clicks);
        Assert.Equal(expected.SpendMicros, actual.SpendMicros);
        Assert.Equal(expected.DuplicateClicks, actual.DuplicateClicks);
        Assert.Equal(expected.InvalidBadToken, actual.InvalidBadToken);
        Assert.Equal(expected.InvalidBot, actual.InvalidBot);
        Assert.Equal(expected.InvalidRate, actual.InvalidRate);
        Assert.Equal(expected.InvalidUnsigned, actual.InvalidUnsigned);
        Assert.Equal(expected.TooLate, actual.TooLate);
        Assert.Equal(expected.LateClicks, actual.LateClicks);
        Assert.Equal(expected.Users.IsDense, actual.Users.IsDense);
        Assert.Equal(expected.Users.Serialize(), actual.Users.Serialize());
        Assert.Equal(expected.RuleVersion, actual.RuleVersion);
    }

    public static void AssertSameRows(IReadOnlyList<WindowRow> expected, IReadOnlyList<WindowRow> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        var byKey = new Dictionary<WindowKey, WindowRow>();
        foreach (WindowRow row in actual)
        {
            byKey.Add(row.Key, row);
        }

        foreach (WindowRow row in expected)
        {
            AssertSame(row, byKey.GetValueOrDefault(row.Key));
        }
    }
}

namespace Tollbooth.Tests;

/// <summary>
/// The end of every fault test: the stored rows read with <c>tollbooth dump</c>, and the same log replayed
/// into a fresh data directory (log, layout and IP key copied; no store, no dedup snapshots) must dump the
/// same rows, changes and checkpoints, byte for byte (I5, I6).
/// </summary>
public static class FaultChecks
{
    public static string Dump(string dataDirectory, int partitions) => Dump(["--data", dataDirectory, "--Log:Partitions", Text(partitions)]);

    /// <summary><c>tollbooth dump</c> with these arguments (<c>--data DIR</c> and the settings it was served with).</summary>
    public static string Dump(string[] arguments)
    {
        (int code, string output, string error) = TollboothProcess.RunVerb(["dump", .. arguments]);
        Assert.True(code == 0, $"tollbooth dump exited {code}: {error}");
        return output;
    }

    /// <summary>The dump's last line: <c>rows N sha256 H</c>.</summary>
    public static string HashLine(string dump) => dump.TrimEnd('\n').Split('\n')[^1];

    /// <summary>
    /// Copies the log into a new data directory, runs <c>tollbooth replay</c> there with the served program's
    /// settings (<paramref name="settings"/>: every decision depends on them) and returns its dump.
    /// </summary>
    public static string DumpOfFreshReplay(string dataDirectory, int partitions, params string[] settings)
    {
        string fresh = TollboothProcess.NewDataDirectory();
        try
        {
            CopyDirectory(Path.Combine(dataDirectory, "log"), Path.Combine(fresh, "log"));
            foreach (string file in (string[])["tollbooth.json", "ip-secret.key"])
            {
                File.Copy(Path.Combine(dataDirectory, file), Path.Combine(fresh, file));
            }

            (int code, string output, string error) = TollboothProcess.RunVerb(["replay", "--data", fresh, "--Log:Partitions", Text(partitions), .. settings]);
            Assert.True(code == 0, $"tollbooth replay exited {code}: {output}{error}");
            return Dump(fresh, partitions);
        }
        finally
        {
            Directory.Delete(fresh, recursive: true);
        }
    }

    /// <summary>Asserts that a fresh replay of the log gives exactly the rows that were served.</summary>
    public static void AssertFreshReplayGivesTheSameRows(string dataDirectory, int partitions, string served, string context, params string[] settings)
    {
        string replayed = DumpOfFreshReplay(dataDirectory, partitions, settings);
        // TOLLBOOTH_KEEP_DUMPS=<directory> keeps both dumps when they differ, to diff them.
        if (HashLine(served) != HashLine(replayed) && Environment.GetEnvironmentVariable("TOLLBOOTH_KEEP_DUMPS") is { } keep)
        {
            File.WriteAllText(Path.Combine(keep, "served.txt"), served);
            File.WriteAllText(Path.Combine(keep, "replayed.txt"), replayed);
        }

        Assert.True(
            HashLine(served) == HashLine(replayed),
            $"{context}: the served rows ({HashLine(served)}) differ from a fresh replay of the log ({HashLine(replayed)}).");
    }

    public static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (string directory in Directory.GetDirectories(from))
        {
            CopyDirectory(directory, Path.Combine(to, Path.GetFileName(directory)));
        }
    }

    private static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

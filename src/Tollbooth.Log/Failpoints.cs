using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Tollbooth.Log;

/// <summary>
/// Named points where a test can make the real program die (or drop an answer) at the worst instant, switched
/// on only by the environment variable <c>TOLLBOOTH_FAILPOINTS</c>, for example
/// <c>log.after_write_before_fsync=3</c> (kill -9 itself on the 3rd hit) or
/// <c>ingest.after_durable_before_ack=abort:1-*/5</c> (answer nothing, dropping the connection, on every hit from
/// the 1st except each 5th). Entries are separated by <c>;</c>. Off, a call site costs one test of a static
/// readonly bool, which the JIT folds away: <c>if (Failpoints.Enabled) Failpoints.Hit(...)</c>.
/// </summary>
public static class Failpoints
{
    public const string EnvironmentVariable = "TOLLBOOTH_FAILPOINTS";

    /// <summary>After a group commit's bytes are written to the segment, before its fdatasync.</summary>
    public const string LogAfterWriteBeforeFsync = "log.after_write_before_fsync";

    /// <summary>After the fdatasync of a group commit, before its appends complete.</summary>
    public const string LogAfterFsyncBeforePublish = "log.after_fsync_before_publish";

    /// <summary>A new segment file is created during a roll, before its directory is fsynced.</summary>
    public const string LogRollBeforeDirectoryFsync = "log.roll_before_directory_fsync";

    /// <summary>
    /// Retention unlinked an old segment's file, its directory not yet fsynced: hit once per segment deleted, so also
    /// between the deletions of one pass.
    /// </summary>
    public const string LogSegmentDelete = "log.segment_delete";

    /// <summary>Every click of a request is durable, before the 202 is written (crash, or abort the connection).</summary>
    public const string IngestAfterDurableBeforeAck = "ingest.after_durable_before_ack";

    /// <summary>Inside the store transaction: rows, changes and checkpoint written, COMMIT not yet run.</summary>
    public const string StoreInsideCommit = "store.inside_commit";

    /// <summary>The store commit returned; the dedup snapshot that is due is not yet written.</summary>
    public const string ProcessorAfterCommitBeforeSnapshot = "processor.after_commit_before_snapshot";

    /// <summary>A dedup snapshot's temporary file is written and fsynced, not yet renamed over the old one.</summary>
    public const string DedupSnapshotBeforeRename = "dedup.snapshot_before_rename";

    /// <summary>A dedup snapshot is renamed into place, its directory not yet fsynced.</summary>
    public const string DedupSnapshotBeforeDirectoryFsync = "dedup.snapshot_before_directory_fsync";

    /// <summary>The dedup index was compacted in memory (expired ids dropped) after a commit; no snapshot of it yet.</summary>
    public const string DedupAfterCompaction = "dedup.after_compaction";

    public static readonly IReadOnlyList<string> Names =
    [
        LogAfterWriteBeforeFsync, LogAfterFsyncBeforePublish, LogRollBeforeDirectoryFsync, LogSegmentDelete, IngestAfterDurableBeforeAck,
        StoreInsideCommit, ProcessorAfterCommitBeforeSnapshot, DedupSnapshotBeforeRename, DedupSnapshotBeforeDirectoryFsync,
        DedupAfterCompaction,
    ];

    /// <summary>True only when <c>TOLLBOOTH_FAILPOINTS</c> is set; read once, so the JIT removes disabled call sites.</summary>
    public static readonly bool Enabled;

    private static readonly Dictionary<string, Rule> s_rules = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, long> s_hits = new(StringComparer.Ordinal);

    static Failpoints()
    {
        string? text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return;
        }

        foreach (string entry in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Rule rule = Rule.Parse(entry);
            s_rules[rule.Name] = rule;
        }

        Enabled = s_rules.Count > 0;
    }

    /// <summary>What a failpoint that fires does.</summary>
    public enum Action
    {
        /// <summary>Not armed, or not this hit: carry on.</summary>
        None,

        /// <summary>The call site drops what it was about to answer (only where the site supports it).</summary>
        Abort,
    }

    /// <summary>
    /// Counts a hit of <paramref name="name"/>. When the rule says crash on this hit, prints one line to stderr and
    /// kills the process with SIGKILL (no flush, no finally blocks: like kill -9 or a power cut for the process).
    /// Returns <see cref="Action.Abort"/> when the rule says abort on this hit, else <see cref="Action.None"/>.
    /// </summary>
    public static Action Hit(string name)
    {
        if (!s_rules.TryGetValue(name, out Rule rule))
        {
            return Action.None;
        }

        long hit = s_hits.AddOrUpdate(name, 1, static (_, count) => count + 1);
        if (!rule.FiresOn(hit))
        {
            return Action.None;
        }

        if (rule.Abort)
        {
            return Action.Abort;
        }

        Console.Error.WriteLine($"failpoint {name} hit {hit}: killing the process ({EnvironmentVariable})");
        Console.Error.Flush();
        using Process self = Process.GetCurrentProcess();
        self.Kill();
        Environment.FailFast($"failpoint {name} hit {hit}");
        return Action.None;
    }

    /// <summary>One entry: <c>name=[abort:]first[-last|-*][/every]</c>.</summary>
    private readonly record struct Rule(string Name, bool Abort, long First, long Last, long Every)
    {
        public bool FiresOn(long hit) => hit >= First && hit <= Last && (Every == 0 || hit % Every != 0);

        public static Rule Parse(string entry)
        {
            int equals = entry.IndexOf('=');
            if (equals <= 0)
            {
                throw Bad(entry);
            }

            string name = entry[..equals];
            string spec = entry[(equals + 1)..];
            if (!Names.Contains(name))
            {
                throw new ArgumentException($"{EnvironmentVariable}: unknown failpoint '{name}'; known: {string.Join(", ", Names)}.");
            }

            bool abort = spec.StartsWith("abort:", StringComparison.Ordinal);
            spec = abort ? spec["abort:".Length..] : spec;
            long every = 0;
            int slash = spec.IndexOf('/');
            if (slash >= 0)
            {
                every = ParseCount(spec[(slash + 1)..], entry);
                spec = spec[..slash];
            }

            int dash = spec.IndexOf('-');
            long first = ParseCount(dash >= 0 ? spec[..dash] : spec, entry);
            long last = dash < 0 ? first : spec[(dash + 1)..] == "*" ? long.MaxValue : ParseCount(spec[(dash + 1)..], entry);
            return new Rule(name, abort, first, last, every);
        }

        private static long ParseCount(string text, string entry)
        {
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value < 1)
            {
                throw Bad(entry);
            }

            return value;
        }

        private static ArgumentException Bad(string entry) => new(
            $"{EnvironmentVariable}: '{entry}' is not name=N, name=N-M, name=N-* or name=abort:N-M/K (hits counted from 1).");
    }
}

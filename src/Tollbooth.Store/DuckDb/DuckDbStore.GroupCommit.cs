using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Store;

/// <summary>
/// Group commit: the partition processors' commits, each blocking its own thread, are written by whichever of those
/// threads leads, several in one DuckDB transaction (issue 16: eight partitions committing four times a second each
/// kept DuckDB busy with thirty-two small transactions a second). A commit joins the queue; when no leader is
/// writing, its caller leads: it takes the write lock, then every commit queued at that moment (its own among them),
/// and writes them in one transaction; commits that arrive meanwhile wait for the next leader, which the finishing
/// leader names from the queue. Nothing waits on a timer for more commits to come: a group is whatever queued while
/// the previous transaction (or a roll holding the write lock) ran. Commits keep their queue order inside the
/// transaction, so two commits of one partition are applied in the order they were made. A failed transaction fails
/// every commit of its group with its exception and wrote none of them; the commits queued after it carry on.
/// </summary>
public sealed partial class DuckDbStore
{
    private readonly bool _groupCommits;

    // Guarded by itself; taken after _writeLock, never before it.
    private readonly object _queueLock = new();
    private List<PendingCommit> _queued = new();
    private List<PendingCommit> _spareQueue = new();
    private bool _leading;
    private long _committedCommits;
    private long _committedTransactions;

    /// <summary>
    /// The commits written since the store opened, and the transactions they took: commits per transaction is how
    /// much the group commit gathers (for metrics, tests and the commit benchmark).
    /// </summary>
    public (long Commits, long Transactions) CommitCounts
    {
        get
        {
            lock (_queueLock)
            {
                return (_committedCommits, _committedTransactions);
            }
        }
    }

    /// <summary>The commits waiting for the next group (for tests).</summary>
    internal int QueuedCommits
    {
        get
        {
            lock (_queueLock)
            {
                return _queued.Count;
            }
        }
    }

    private void CommitInGroup(PendingCommit commit)
    {
        bool lead;
        lock (_queueLock)
        {
            _queued.Add(commit);
            lead = !_leading;
            _leading = true;
            while (!lead && !commit.Done)
            {
                Monitor.Wait(_queueLock);
                lead = commit.Leads;
            }
        }

        if (lead)
        {
            LeadOneGroup();
        }

        Debug.Assert(commit.Done);
        commit.Failure?.Throw();
    }

    // Writes every queued commit in one transaction, then hands the lead to the first commit queued since, if any.
    private void LeadOneGroup()
    {
        List<PendingCommit>? group = null;
        try
        {
            lock (_writeLock)
            {
                lock (_queueLock)
                {
                    group = _queued;
                    _queued = _spareQueue;
                }

                Debug.Assert(group.Count > 0);
                WriteGroupOrFailIt(group);
            }
        }
        finally
        {
            lock (_queueLock)
            {
                if (group is not null)
                {
                    for (int i = 0; i < group.Count; i++)
                    {
                        group[i].Done = true;
                    }

                    group.Clear();
                    _spareQueue = group;
                }

                if (_queued.Count > 0)
                {
                    _queued[0].Leads = true;
                }
                else
                {
                    _leading = false;
                }

                Monitor.PulseAll(_queueLock);
            }
        }
    }

    // Under _writeLock. Each commit of the group learns the group's outcome: done, or failed with the same exception.
    // A commit of a superseded owner fails alone, before the transaction (DuckDbStore.Owners.cs).
    private void WriteGroupOrFailIt(List<PendingCommit> group)
    {
        List<PendingCommit> live = WithoutFencedCommits(group);
        if (live.Count == 0)
        {
            return;
        }

        try
        {
            WriteInTransaction(live, static (store, g) => store.WriteGroup(g), static (store, g) => store.NoteGroupCommitted(g));
            lock (_queueLock)
            {
                _committedCommits += live.Count;
                _committedTransactions++;
            }
        }
        catch (Exception exception)
        {
            ExceptionDispatchInfo failure = ExceptionDispatchInfo.Capture(exception);
            for (int i = 0; i < live.Count; i++)
            {
                live[i].Failure = failure;
            }
        }
    }

    /// <summary>One partition's commit, queued for a group; its fields past the first four belong to the leader writing it.</summary>
    private sealed class PendingCommit(PartitionCheckpoint checkpoint, IReadOnlyList<WindowRow> rows, IReadOnlyList<WindowChange> changes, PartitionLease? lease)
    {
        public PartitionCheckpoint Checkpoint { get; } = checkpoint;

        public IReadOnlyList<WindowRow> Rows { get; } = rows;

        public IReadOnlyList<WindowChange> Changes { get; } = changes;

        /// <summary>The owner's lease; null for an unfenced commit (a store no processor owns).</summary>
        public PartitionLease? Lease { get; } = lease;

        /// <summary>The hours its rows fall in, set inside the transaction.</summary>
        public HashSet<long>? Hours { get; set; }

        /// <summary>Set, under the queue lock, once its group's transaction committed or failed.</summary>
        public bool Done { get; set; }

        /// <summary>Set, under the queue lock, when its caller is to lead the next group.</summary>
        public bool Leads { get; set; }

        /// <summary>The group's failure, rethrown by the caller; null when it committed.</summary>
        public ExceptionDispatchInfo? Failure { get; set; }
    }
}

using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Tollbooth.Ingest;

/// <summary>
/// What ingest took in since the process started, as plain counters the program binds to its metrics:
/// counted once per request (and per rejected item), never per accepted click, with no lock.
/// </summary>
public sealed class IngestCounters
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _rejectedByCode = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox<long>> _refusedByCode = new(StringComparer.Ordinal);
    private long _received;
    private long _accepted;

    /// <summary>Click items in request bodies that could be read (accepted, rejected, or in a request refused whole after reading), and clicks recorded from click links.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Clicks made durable in the log and acknowledged (a 202, or a click link's answer).</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>
    /// Called after each acknowledged request with the time from the start of ingesting its body (parse, append)
    /// to its clicks being durable, for metrics; it must be cheap and must not throw. Null for none.
    /// </summary>
    public Action<TimeSpan>? Acknowledged { get; init; }

    /// <summary>Items rejected one by one (the <c>rejected</c> list of a 202), by their stable code.</summary>
    public IEnumerable<KeyValuePair<string, long>> RejectedByCode() => Snapshot(_rejectedByCode);

    /// <summary>Requests refused whole (400, 413, 503), by their stable code.</summary>
    public IEnumerable<KeyValuePair<string, long>> RefusedByCode() => Snapshot(_refusedByCode);

    public void CountReceived(int items) => Interlocked.Add(ref _received, items);

    public void CountAccepted(int clicks) => Interlocked.Add(ref _accepted, clicks);

    public void CountRejected(string code) => Interlocked.Increment(ref BoxOf(_rejectedByCode, code).Value);

    public void CountRefused(string code) => Interlocked.Increment(ref BoxOf(_refusedByCode, code).Value);

    private static StrongBox<long> BoxOf(ConcurrentDictionary<string, StrongBox<long>> counters, string code) =>
        counters.TryGetValue(code, out StrongBox<long>? box) ? box : counters.GetOrAdd(code, static _ => new StrongBox<long>());

    private static IEnumerable<KeyValuePair<string, long>> Snapshot(ConcurrentDictionary<string, StrongBox<long>> counters)
    {
        foreach ((string code, StrongBox<long> box) in counters)
        {
            yield return new(code, Interlocked.Read(ref box.Value));
        }
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Tollbooth.Tests;

/// <summary>
/// The fault tests' one oracle. The client journals every click it sends and every 202 it gets; every click
/// has its own ad, so a stored row's count is that one click's count. After the final restart and lag 0,
/// <see cref="Check"/> reads the rows of <c>tollbooth dump</c>: a click acknowledged at least once must be
/// counted exactly once, a click never acknowledged 0 or 1 times, never 2; no row may name an ad never sent.
/// </summary>
/// <param name="eventTimeStep">
/// When set, event time marches: each new click is this much later than the one before, from 12 hours ago (never
/// past now), so the pipeline's watermark crosses hours (and the dedup index is compacted) within a short test.
/// </param>
public sealed class ClickJournal(int seed, TimeSpan? eventTimeStep = null)
{
    private readonly ConcurrentDictionary<string, Batch> _batches = new();
    private readonly ConcurrentDictionary<string, long> _ads = new();
    private readonly DateTimeOffset _base = eventTimeStep is null ? DateTimeOffset.UtcNow.AddMinutes(-20) : DateTimeOffset.UtcNow.AddHours(-12);
    private long _sequence;
    private long _sent;
    private long _acknowledgedRequests;

    /// <summary>Requests sent, resends included.</summary>
    public long RequestsSent => Interlocked.Read(ref _sent);

    public long RequestsAcknowledged => Interlocked.Read(ref _acknowledgedRequests);

    public int Clicks => _ads.Count;

    public IEnumerable<Batch> Batches => _batches.Values;

    /// <summary>A new batch of <paramref name="size"/> clicks, each of its own ad; about one in eight repeats an earlier click of the batch.</summary>
    public Batch NewBatch(Random random, int size)
    {
        var body = new StringBuilder("[");
        var ads = new List<string>();
        for (int i = 0; i < size; i++)
        {
            string ad;
            if (ads.Count > 0 && random.Next(8) == 0)
            {
                ad = ads[random.Next(ads.Count)];
            }
            else
            {
                long sequence = Interlocked.Increment(ref _sequence);
                ad = $"j{seed}-{sequence}";
                ads.Add(ad);
                _ads[ad] = eventTimeStep is { } step
                    ? Math.Min(_base.Add(step * sequence).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
                    : _base.AddSeconds(random.Next(600)).ToUnixTimeMilliseconds();
            }

            // The click id and the timestamp follow from the ad, so a repeat is the same click.
            long ms = _ads[ad];
            body.Append(i == 0 ? "" : ",")
                .Append($"{{\"click_id\":\"c-{ad}\",\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"timestamp\":{ms},\"cost_micros\":{random.Next(1000)}}}");
        }

        var batch = new Batch(body.Append(']').ToString(), ads);
        _batches[batch.Body] = batch;
        return batch;
    }

    /// <summary>Sends the batch once and journals the answer; true on 202. No answer, or any other status, is an unknown outcome.</summary>
    public async Task<bool> SendAsync(TollboothClient client, Batch batch)
    {
        Interlocked.Increment(ref _sent);
        try
        {
            using HttpResponseMessage response = await client.PostClicksAsync(batch.Body);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                batch.NoteAnswer((int)response.StatusCode);
                return false;
            }

            // A 202 whose body cannot be read was still sent by the server after the clicks were durable.
            Interlocked.Increment(ref _acknowledgedRequests);
            batch.Acknowledged = true;
            return true;
        }
        catch (Exception exception) when (exception is HttpRequestException or System.Net.Sockets.SocketException)
        {
            // A connection the kill cut while it was being set up can surface as the socket's own error
            // ("Transport endpoint is not connected" from reading its remote end point), not wrapped.
            batch.NoteAnswer(0);
            return false;
        }
        catch (TaskCanceledException)
        {
            batch.NoteAnswer(-1);
            return false;
        }
    }

    /// <summary>Compares a dump's rows with the journal; returns the verdict's figures, and a message for each violation.</summary>
    public Verdict Check(string dump)
    {
        var counted = new Dictionary<string, long>(StringComparer.Ordinal);
        var strangers = new List<string>();
        foreach (string line in dump.Split('\n'))
        {
            if (line.Length == 0 || !char.IsAsciiDigit(line[0]))
            {
                continue;
            }

            string[] columns = line.Split('\t');
            string ad = columns[2];
            long clicks = long.Parse(columns[9], System.Globalization.CultureInfo.InvariantCulture);
            if (!_ads.ContainsKey(ad))
            {
                strangers.Add(ad);
            }

            counted[ad] = counted.GetValueOrDefault(ad) + clicks;
        }

        var acknowledged = new HashSet<string>(StringComparer.Ordinal);
        foreach (Batch batch in _batches.Values)
        {
            if (batch.Acknowledged)
            {
                acknowledged.UnionWith(batch.Ads);
            }
        }

        var problems = new List<string>();
        long lost = 0, doubled = 0, unknownCounted = 0, unknownNotCounted = 0;
        foreach (string ad in _ads.Keys)
        {
            long count = counted.GetValueOrDefault(ad);
            if (count > 1)
            {
                doubled++;
                problems.Add($"click of {ad} counted {count} times");
            }
            else if (acknowledged.Contains(ad) && count == 0)
            {
                lost++;
                problems.Add($"acknowledged click of {ad} is not counted");
            }
            else if (!acknowledged.Contains(ad))
            {
                _ = count == 1 ? unknownCounted++ : unknownNotCounted++;
            }
        }

        problems.AddRange(strangers.Select(ad => $"a row counts ad {ad}, which was never sent"));
        return new Verdict(_ads.Count, acknowledged.Count, unknownCounted, unknownNotCounted, lost, doubled, problems);
    }

    /// <summary>One request's clicks and what became of it.</summary>
    public sealed class Batch(string body, IReadOnlyList<string> ads)
    {
        private int _lastAnswer;

        public string Body => body;

        public IReadOnlyList<string> Ads => ads;

        public bool Acknowledged { get; set; }

        /// <summary>The last non-202 answer: 0 no answer, -1 timeout, else the HTTP status.</summary>
        public int LastAnswer => Volatile.Read(ref _lastAnswer);

        public void NoteAnswer(int answer) => Volatile.Write(ref _lastAnswer, answer);
    }

    public sealed record Verdict(long Clicks, long Acknowledged, long UnknownCounted, long UnknownNotCounted, long Lost, long DoubleCounted, IReadOnlyList<string> Problems)
    {
        public override string ToString() =>
            $"{Clicks} distinct clicks, {Acknowledged} acknowledged, unknown outcome {UnknownCounted} counted / {UnknownNotCounted} not, lost {Lost}, double counted {DoubleCounted}";
    }
}

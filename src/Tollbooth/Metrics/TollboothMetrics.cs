using Prometheus;
using Tollbooth.Core;
using Tollbooth.Ingest;
using Tollbooth.Log;
using Tollbooth.Processing;

namespace Tollbooth.Metrics;

/// <summary>
/// The Prometheus metrics of <c>tollbooth serve</c>, in their own registry. The hot paths keep plain counters
/// (<see cref="IngestCounters"/>, <see cref="PartitionProcessor.CommittedVerdicts"/>, the log's pending bytes);
/// they are copied into Prometheus collectors only when a scrape asks. Histograms are observed once per request,
/// fsync or commit, never per click.
/// </summary>
public sealed class TollboothMetrics
{
    private static readonly string[] s_verdictNames = Enumerable.Range(0, PartitionProcessor.VerdictCount).Select(v => VerdictName((Verdict)v)).ToArray();

    private readonly Histogram _ackSeconds;
    private readonly Histogram _fsyncSeconds;
    private readonly Histogram _commitSeconds;
    private readonly Counter _clicksIngested;
    private readonly Counter _clicksAccepted;
    private readonly Counter _clicksRejected;
    private readonly Counter _requestsRefused;
    private readonly Counter _rateLimited;
    private readonly Counter _clicksProcessed;
    private readonly Gauge _lagClicks;
    private readonly Gauge _watermarkDelaySeconds;
    private readonly Counter _logSegmentsDeleted;
    private readonly Gauge _logPendingBytes;
    private readonly Gauge _ready;

    public TollboothMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        MetricFactory factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        Factory = factory;
        _ackSeconds = factory.CreateHistogram(
            "tollbooth_ingest_ack_seconds",
            "Time from taking a click request's body to its clicks being durable (the 202), per acknowledged request.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });
        _fsyncSeconds = factory.CreateHistogram(
            "tollbooth_log_fsync_seconds",
            "Duration of each fdatasync of a click log segment (one per written file per group commit).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });
        _commitSeconds = factory.CreateHistogram(
            "tollbooth_commit_seconds",
            "Duration of each partition processor commit: changed rows and position in one store transaction.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14) });
        _clicksIngested = factory.CreateCounter(
            "tollbooth_clicks_ingested_total",
            "Click items in readable request bodies (accepted, rejected one by one, or in a request refused whole after reading) and clicks of followed click links.");
        _clicksAccepted = factory.CreateCounter("tollbooth_clicks_accepted_total", "Clicks made durable in the click log and acknowledged (202 to POST /v1/clicks; 302, or 403 for a bad signature, to a click link).");
        _clicksRejected = factory.CreateCounter(
            "tollbooth_clicks_rejected_total",
            "Click items rejected one by one in a 202's rejected list, by stable code.",
            new CounterConfiguration { LabelNames = ["code"] });
        _requestsRefused = factory.CreateCounter(
            "tollbooth_click_requests_refused_total",
            "Click requests refused whole (400, 413, 429, 503), by stable code.",
            new CounterConfiguration { LabelNames = ["code"] });
        _rateLimited = factory.CreateCounter(
            "tollbooth_requests_rate_limited_total",
            "Requests answered 429 because a rate limit was spent, by limit: publisher (clicks), address (requests) or advertiser (requests).",
            new CounterConfiguration { LabelNames = ["limit"] });
        _clicksProcessed = factory.CreateCounter(
            "tollbooth_clicks_processed_total",
            "Clicks committed to the aggregates by the partition processors, by verdict.",
            new CounterConfiguration { LabelNames = ["verdict"] });
        _lagClicks = factory.CreateGauge(
            "tollbooth_lag_clicks",
            "Clicks durable in the partition's log but not yet committed to the aggregates.",
            new GaugeConfiguration { LabelNames = ["partition"] });
        _watermarkDelaySeconds = factory.CreateGauge(
            "tollbooth_watermark_delay_seconds",
            "Wall-clock time minus the partition's watermark (absent until the partition has seen a click).",
            new GaugeConfiguration { LabelNames = ["partition"] });
        _logSegmentsDeleted = factory.CreateCounter(
            "tollbooth_log_segments_deleted_total",
            "Closed click log segments deleted by retention (Log:RetentionHours) since the process started.");
        _logPendingBytes = factory.CreateGauge("tollbooth_log_pending_bytes", "Framed bytes appended to the click log and waiting for their write and fsync.");
        _ready = factory.CreateGauge("tollbooth_ready", "1 once every partition has recovered, else 0.");
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Makes collectors in <see cref="Registry"/> (the HTTP request metrics use it).</summary>
    public IMetricFactory Factory { get; }

    public void ObserveAck(TimeSpan took) => _ackSeconds.Observe(took.TotalSeconds);

    public void ObserveFsync(TimeSpan took) => _fsyncSeconds.Observe(took.TotalSeconds);

    public void ObserveCommit(int partition, TimeSpan took) => _commitSeconds.Observe(took.TotalSeconds);

    /// <summary>Counts one 429; <paramref name="limit"/> is one of a few fixed names, so the label set stays small.</summary>
    public void CountRateLimited(string limit) => _rateLimited.WithLabels(limit).Inc();

    /// <summary>Reads the pipeline's plain counters into the collectors before every scrape.</summary>
    public void Bind(SegmentLog log, Pipeline pipeline, IngestCounters ingest, IClock clock)
    {
        for (int verdict = 0; verdict < s_verdictNames.Length; verdict++)
        {
            _clicksProcessed.WithLabels(s_verdictNames[verdict]).IncTo(0);
        }

        var lagByPartition = new Gauge.Child[pipeline.PartitionCount];
        for (int partition = 0; partition < lagByPartition.Length; partition++)
        {
            lagByPartition[partition] = _lagClicks.WithLabels(partition.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Registry.AddBeforeCollectCallback(() =>
        {
            CollectIngest(ingest);
            CollectPartitions(log, pipeline, lagByPartition, clock.UtcNowMs);
            _logPendingBytes.Set(log.PendingBytes);
            _logSegmentsDeleted.IncTo(log.SegmentsDeleted);
            _ready.Set(pipeline.IsRecovered ? 1 : 0);
        });
    }

    private static string VerdictName(Verdict verdict) => verdict switch
    {
        Verdict.Valid => "valid",
        Verdict.Duplicate => "duplicate",
        Verdict.Invalid => "invalid",
        Verdict.TooLate => "too_late",
        _ => verdict.ToString().ToLowerInvariant(),
    };

    private void CollectIngest(IngestCounters ingest)
    {
        _clicksIngested.IncTo(ingest.Received);
        _clicksAccepted.IncTo(ingest.Accepted);
        foreach ((string code, long count) in ingest.RejectedByCode())
        {
            _clicksRejected.WithLabels(code).IncTo(count);
        }

        foreach ((string code, long count) in ingest.RefusedByCode())
        {
            _requestsRefused.WithLabels(code).IncTo(count);
        }
    }

    private void CollectPartitions(SegmentLog log, Pipeline pipeline, Gauge.Child[] lagByPartition, long nowMs)
    {
        foreach (PartitionProcessor processor in pipeline.Processors)
        {
            // Committed first: it never passes the durable end, so lag is never negative.
            long committed = processor.CommittedPosition;
            lagByPartition[processor.Partition].Set(log.DurableEnd(processor.Partition) - committed);
            long watermarkMs = processor.WatermarkMs;
            if (watermarkMs != long.MinValue)
            {
                string partition = processor.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture);
                _watermarkDelaySeconds.WithLabels(partition).Set((nowMs - watermarkMs) / 1000.0);
            }
        }

        for (int verdict = 0; verdict < s_verdictNames.Length; verdict++)
        {
            _clicksProcessed.WithLabels(s_verdictNames[verdict]).IncTo(pipeline.CommittedVerdicts((Verdict)verdict));
        }
    }
}

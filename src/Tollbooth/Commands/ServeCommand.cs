using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Prometheus;
using Tollbooth.Core;
using Tollbooth.Http;
using Tollbooth.Ingest;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Ingest.Tokens;
using Tollbooth.Log;
using Tollbooth.Metrics;
using Tollbooth.Processing;
using Tollbooth.Query;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth serve</c>: every role in one process on the embedded default. Prints
/// <c>listening on URL</c> when ready; SIGTERM stops accepting, lets in-flight requests finish
/// (each waits for its fsync), commits what the processors applied and exits 0.
/// </summary>
public static class ServeCommand
{
    public static async Task<int> RunAsync(TollboothSettings settings)
    {
        if (settings.Engine == "naive")
        {
            return await NaiveServeCommand.RunAsync(settings);
        }

        if (settings.Role == "process")
        {
            return await ProcessMemberCommand.RunAsync(settings);
        }

        WarnIfFailpointsArmed();
        var metrics = new TollboothMetrics();
        using DataDirectory data = DataDirectory.Open(settings, Warn, metrics.ObserveFsync);
        var keys = new KeyRing(data.Store, SystemClock.Instance);
        BootstrapAdminKey(keys);

        int exitCode = 0;
        WebApplication? app = null;
        IHostApplicationLifetime? lifetime = null;
        var recent = new RecentActivity();
        Tollbooth.Archive.ParquetArchive archive = data.OpenArchive(settings.Archive);
        OfflinePipeline.RecordRulesInForce(settings, data);
        using var pipeline = new Pipeline(data.Log, data.Store, settings.ToAggregatorOptions(), settings.ToProcessorOptions(data.DedupSnapshotDirectory, Warn, recent, metrics.ObserveCommit, archive), (partition, exception) =>
        {
            Console.Error.WriteLine($"error: partition {partition} stopped: {exception.Message}");
            exitCode = 1;
            StopApplication(lifetime);
        });
        pipeline.Start();

        app = BuildApp(settings, data, archive, keys, pipeline, recent, metrics, exception =>
        {
            Console.Error.WriteLine($"error: the click log failed and Tollbooth stops accepting: {exception.Message}");
            exitCode = 1;
            StopApplication(lifetime);
        });
        lifetime = app.Lifetime;
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            foreach (string address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses)
            {
                Console.WriteLine($"listening on {address}");
            }
        });
        var stopping = new Stopwatch();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            stopping.Start();
            Console.WriteLine($"stopping: no new requests; those in flight get up to {settings.ShutdownTimeoutMs} ms to finish");
        });
        using var retention = new CancellationTokenSource();
        Task retentionLoop = KeepRetentionAsync(archive, settings.Archive.RawRetentionDays, retention.Token);
        await app.RunAsync();
        await retention.CancelAsync();
        await retentionLoop;
        await CatchUpAsync(pipeline, TimeSpan.FromMilliseconds(settings.ShutdownTimeoutMs) - stopping.Elapsed);
        pipeline.Stop();
        Console.WriteLine($"stopped: {pipeline.Processed} of {pipeline.Ingested} clicks in the log committed to the aggregates; the rest are counted at the next start");
        return exitCode;
    }

    private static WebApplication BuildApp(TollboothSettings settings, DataDirectory data, Tollbooth.Archive.ParquetArchive archive, KeyRing keys, Pipeline pipeline, RecentActivity recent, TollboothMetrics metrics, Action<Exception> onLogFailed)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(settings.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries));
        Counter refusedByServer = metrics.Factory.CreateCounter(
            "tollbooth_http_requests_refused_by_server_total",
            "Requests Kestrel answered itself before the application saw them (malformed HTTP, headers too slow or too large), by code.",
            new CounterConfiguration { LabelNames = ["code"] });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            KestrelLimits.Apply(kestrel.Limits, settings.Limits);
            kestrel.ConfigureEndpointDefaults(listen => KestrelErrorBodies.Apply(listen, code => refusedByServer.WithLabels(code).Inc()));
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(options => options.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromMilliseconds(settings.ShutdownTimeoutMs));

        var ads = new AdDirectory();
        var limits = new IngestLimits
        {
            ClicksPerRequestMax = settings.Ingest.ClicksPerRequestMax,
            BodyBytesMax = settings.Ingest.BodyBytesMax,
            FutureSkewMsMax = settings.Ingest.FutureSkewMsMax,
        };
        var ips = new IpPseudonymizer(data.IpKey);
        var parser = new ClickParser(limits, SystemClock.Instance, ips);
        var signing = new ClickSigning(ClickTokens.Open(data.Store, SystemClock.Instance), data.Store);
        builder.Services.AddSingleton(ips);
        builder.Services.AddSingleton<IClock>(SystemClock.Instance);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(pipeline);
        builder.Services.AddSingleton<IClickLog>(data.Log);
        var ingestCounters = new IngestCounters { Acknowledged = metrics.ObserveAck };
        metrics.Bind(data.Log, pipeline, ingestCounters, SystemClock.Instance);
        builder.Services.AddSingleton(metrics);
        var rateLimits = new RateLimits(settings.Limits, metrics.CountRateLimited);
        builder.Services.AddSingleton(rateLimits);
        builder.Services.AddSingleton(new IngestService(data.Log, parser, ads, limits, onLogFailed, signing, ingestCounters) { Admission = rateLimits.AdmitClicks });
        var rawEvents = new Tollbooth.Archive.ArchiveWindowReader(data.ArchiveDirectory);
        var adQueries = new AdQueries(data.Store, ads, rawEvents);
        builder.Services.AddSingleton(adQueries);
        builder.Services.AddSingleton(new QueryServices(
            data.Store,
            data.Store,
            adQueries,
            new AggregateQueries(data.Store, settings.ToAggregatorOptions(), rawEvents),
            recent,
            pipeline,
            SystemClock.Instance,
            keys,
            settings.Processing.IdleTimeoutMs)
        {
            RawEvents = rawEvents,
            Ips = ips,
        });

        WebApplication app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(rateLimits.Dispose);
        app.UseHttpMetrics(options => options.SetMetricFactory(metrics.Factory));
        ErrorHandling.Use(app);
        ClickEndpoints.Map(app);
        KeyEndpoints.Map(app);
        QueryEndpoints.Map(app);
        PopularAdsEndpoints.Map(app);
        AggregateEndpoints.Map(app);
        ChangesEndpoints.Map(app);
        AdvertiserEndpoints.Map(app);
        TokenEndpoints.Map(app);
        ReconcileEndpoints.Map(app, data.ArchiveDirectory);
        UserEndpoints.Map(app, archive);
        RuleEndpoints.Map(app, data.ArchiveDirectory, settings.ToAggregatorOptions());
        OpenApi.Map(app);
        OperationsEndpoints.Map(app);
        MetricsEndpoints.Map(app);
        DashboardEndpoints.Map(app);
        return app;
    }

    /// <summary>
    /// Lets the processors count what was acknowledged, for what is left of the shutdown bound, so a clean stop
    /// usually leaves no lag; whatever is left is in the log and counted at the next start.
    /// </summary>
    private static async Task CatchUpAsync(Pipeline pipeline, TimeSpan left)
    {
        var waited = Stopwatch.StartNew();
        while (!pipeline.IsCaughtUp() && waited.Elapsed < left)
        {
            await Task.Delay(10);
        }
    }

    internal static void BootstrapAdminKey(KeyRing keys)
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("TOLLBOOTH_ADMIN_KEY");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            if (keys.Authenticate(fromEnvironment) is null)
            {
                keys.Create(ApiKeyRole.Admin, null, null, fromEnvironment);
            }

            return;
        }

        if (!keys.AnyAdmin())
        {
            (ApiKey _, string secret) = keys.Create(ApiKeyRole.Admin, null, null);
            Console.WriteLine($"admin key: {secret}  (shown once: keep it; set TOLLBOOTH_ADMIN_KEY to choose your own)");
        }
    }

    /// <summary>Deletes raw events older than the retention at start and every hour after (processing time).</summary>
    private static async Task KeepRetentionAsync(Tollbooth.Archive.ParquetArchive archive, int retentionDays, CancellationToken stop)
    {
        using var hourly = new PeriodicTimer(TimeSpan.FromHours(1));
        try
        {
            do
            {
                int deleted = archive.DeleteHoursBefore(SystemClock.Instance.UtcNowMs - (retentionDays * 86_400_000L));
                if (deleted > 0)
                {
                    Console.WriteLine($"retention: deleted {deleted} archive files older than {retentionDays} days");
                }
            }
            while (await hourly.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (IOException exception)
        {
            Warn($"raw event retention failed and stops until the next start: {exception.Message}");
        }
    }

    /// <summary>
    /// Stops the host from a failure callback. A processor can fail after the host has already stopped and been
    /// disposed (a failed log stops both): then there is nothing left to stop, and the exit code already says 1.
    /// </summary>
    private static void StopApplication(IHostApplicationLifetime? lifetime)
    {
        try
        {
            lifetime?.StopApplication();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Failpoints are for fault tests only: say loudly when they are on, and refuse a malformed spec at start.</summary>
    private static void WarnIfFailpointsArmed()
    {
        bool armed;
        try
        {
            armed = Failpoints.Enabled;
        }
        catch (TypeInitializationException exception) when (exception.InnerException is ArgumentException bad)
        {
            throw new SettingsException(bad.Message);
        }

        if (armed)
        {
            Warn($"failpoints armed ({Failpoints.EnvironmentVariable}={Environment.GetEnvironmentVariable(Failpoints.EnvironmentVariable)}): this process will fail on purpose.");
        }
    }

    private static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");
}

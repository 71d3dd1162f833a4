using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Tollbooth.Core;
using Tollbooth.Http;
using Tollbooth.Ingest;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Log;
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
        WarnIfFailpointsArmed();
        using DataDirectory data = DataDirectory.Open(settings, Warn);
        var keys = new KeyRing(data.Store, SystemClock.Instance);
        BootstrapAdminKey(keys);

        int exitCode = 0;
        WebApplication? app = null;
        IHostApplicationLifetime? lifetime = null;
        var recent = new RecentActivity();
        using var pipeline = new Pipeline(data.Log, data.Store, settings.ToAggregatorOptions(), settings.ToProcessorOptions(data.DedupSnapshotDirectory, Warn, recent), (partition, exception) =>
        {
            Console.Error.WriteLine($"error: partition {partition} stopped: {exception.Message}");
            exitCode = 1;
            StopApplication(lifetime);
        });
        pipeline.Start();

        app = BuildApp(settings, data, keys, pipeline, recent, exception =>
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
        await app.RunAsync();
        pipeline.Stop();
        return exitCode;
    }

    private static WebApplication BuildApp(TollboothSettings settings, DataDirectory data, KeyRing keys, Pipeline pipeline, RecentActivity recent, Action<Exception> onLogFailed)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(settings.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = null);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(options => options.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(30));

        var ads = new AdDirectory();
        var limits = new IngestLimits
        {
            ClicksPerRequestMax = settings.Ingest.ClicksPerRequestMax,
            BodyBytesMax = settings.Ingest.BodyBytesMax,
            FutureSkewMsMax = settings.Ingest.FutureSkewMsMax,
        };
        var parser = new ClickParser(limits, SystemClock.Instance, new IpPseudonymizer(data.IpKey));
        builder.Services.AddSingleton<IClock>(SystemClock.Instance);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(pipeline);
        builder.Services.AddSingleton<IClickLog>(data.Log);
        builder.Services.AddSingleton(new IngestService(data.Log, parser, ads, limits, onLogFailed));
        var adQueries = new AdQueries(data.Store, ads);
        builder.Services.AddSingleton(adQueries);
        builder.Services.AddSingleton(new QueryServices(
            data.Store,
            data.Store,
            adQueries,
            new AggregateQueries(data.Store, settings.ToAggregatorOptions()),
            recent,
            pipeline,
            SystemClock.Instance,
            keys,
            settings.Processing.IdleTimeoutMs));

        WebApplication app = builder.Build();
        ErrorHandling.Use(app);
        ClickEndpoints.Map(app);
        KeyEndpoints.Map(app);
        QueryEndpoints.Map(app);
        PopularAdsEndpoints.Map(app);
        AggregateEndpoints.Map(app);
        ChangesEndpoints.Map(app);
        AdvertiserEndpoints.Map(app);
        OpenApi.Map(app);
        OperationsEndpoints.Map(app);
        return app;
    }

    private static void BootstrapAdminKey(KeyRing keys)
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

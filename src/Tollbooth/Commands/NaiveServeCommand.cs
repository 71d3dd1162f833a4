using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Npgsql;
using Tollbooth.Core;
using Tollbooth.Http;
using Tollbooth.Ingest.Parsing;
using Tollbooth.Naive;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth serve --engine naive --store postgres://...</c>: the seed's naive design, kept runnable only to be
/// measured against. Each click is one synchronous PostgreSQL transaction; there is no log and no dedup.
/// </summary>
public static class NaiveServeCommand
{
    public static async Task<int> RunAsync(TollboothSettings settings)
    {
        NaiveClickStore store;
        try
        {
            store = await NaiveClickStore.OpenAsync(settings.Store!);
        }
        catch (ArgumentException exception)
        {
            throw new SettingsException(exception.Message);
        }
        catch (NpgsqlException exception)
        {
            Console.Error.WriteLine($"error: could not open the PostgreSQL database of --store ({exception.Message}): start PostgreSQL or fix the URL.");
            return 2;
        }

        await using (store)
        {
            var keys = new KeyRing(store.Keys, SystemClock.Instance);
            ServeCommand.BootstrapAdminKey(keys);
            WebApplication app = BuildApp(settings, store, keys);
            app.Lifetime.ApplicationStarted.Register(() =>
            {
                foreach (string address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses)
                {
                    Console.WriteLine($"listening on {address}");
                }
            });
            await app.RunAsync();
            return 0;
        }
    }

    private static WebApplication BuildApp(TollboothSettings settings, NaiveClickStore store, KeyRing keys)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(settings.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = null);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(options => options.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        var limits = new IngestLimits
        {
            ClicksPerRequestMax = settings.Ingest.ClicksPerRequestMax,
            BodyBytesMax = settings.Ingest.BodyBytesMax,
            FutureSkewMsMax = settings.Ingest.FutureSkewMsMax,
        };
        var parser = new ClickParser(limits, SystemClock.Instance, new IpPseudonymizer(store.IpKey));
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(new NaiveIngestService(store, parser, limits));

        WebApplication app = builder.Build();
        ErrorHandling.Use(app);
        NaiveEndpoints.Map(app);
        KeyEndpoints.Map(app);
        return app;
    }
}

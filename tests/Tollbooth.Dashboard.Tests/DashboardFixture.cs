using Microsoft.Playwright;
using Tollbooth.Tests;

namespace Tollbooth.Dashboard.Tests;

/// <summary>
/// One `tollbooth serve` child process and one headless Chromium (Debian's, at /usr/bin/chromium: browsers
/// cannot be downloaded here) shared by the dashboard tests; each test opens its own browser context, so
/// sign-ins never leak between tests.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public TollboothProcess Server { get; } = new(null, "--Processing:CommitIntervalMs", "20", "--Log:Partitions", "4");

    public TollboothClient Admin { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (test.sh does: apt-get install -y chromium).");
        }

        Server.Start();
        Admin = new TollboothClient(Server.BaseAddress, TollboothProcess.AdminKey);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // The tests may run as root, where Chromium's sandbox cannot start.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh browser context (its own sessionStorage) on a 1280-pixel-wide window.</summary>
    public async Task<IPage> NewPageAsync()
    {
        IBrowserContext context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 1000 },
            TimezoneId = "UTC",
            Locale = "en-US",
        });
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        Admin?.Dispose();
        Server.Dispose();
    }
}

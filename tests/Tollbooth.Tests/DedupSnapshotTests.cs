// Goal: a restart resumes the dedup index from its snapshot, and a damaged snapshot is ignored (the
// index is rebuilt from the log) without losing a duplicate. Method: a server takes ten clicks and
// stops with SIGTERM (which writes the snapshots); optionally a byte of every snapshot is flipped; after
// a restart the same ten clicks are resent and must all be duplicates.
using System.Net;

namespace Tollbooth.Tests;

public sealed class DedupSnapshotTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Resent_clicks_after_a_restart_are_duplicates_whether_or_not_the_snapshot_is_intact(bool damageSnapshot)
    {
        using var server = new TollboothProcess(null, "--Log:Partitions", "2", "--Processing:DedupSnapshotEveryRecords", "1");
        string at = DateTimeOffset.UtcNow.AddMinutes(-2).ToString("O");
        string body = "[" + string.Join(',', Enumerable.Range(0, 10).Select(i => $"{{\"click_id\":\"snap{i}\",\"ad_id\":\"ad-snap-{i % 3}\",\"advertiser_id\":\"adv1\",\"timestamp\":\"{at}\"}}")) + "]";
        server.Start();
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            using HttpResponseMessage first = await client.PostClicksAsync(body);
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            await client.WaitForLagZeroAsync();
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string[] snapshots = Directory.GetFiles(Path.Combine(server.DataDirectory, "dedup"), "*.dedup");
        Assert.NotEmpty(snapshots);
        if (damageSnapshot)
        {
            foreach (string snapshot in snapshots)
            {
                byte[] bytes = File.ReadAllBytes(snapshot);
                bytes[bytes.Length / 2] ^= 0x10;
                File.WriteAllBytes(snapshot, bytes);
            }
        }

        server.Start();
        using var again = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
        using HttpResponseMessage resent = await again.PostClicksAsync(body);
        Assert.Equal(HttpStatusCode.Accepted, resent.StatusCode);
        await again.WaitForLagZeroAsync();
        long total = 0;
        for (int ad = 0; ad < 3; ad++)
        {
            total += await again.CountAsync($"ad-snap-{ad}", DateTimeOffset.UtcNow.AddHours(-1).ToString("O"), DateTimeOffset.UtcNow.AddHours(1).ToString("O"));
        }

        Assert.Equal(10, total);
        Assert.Equal(damageSnapshot, server.Output.Contains("dedup snapshot ignored"));
    }
}

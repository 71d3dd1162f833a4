// Goal: on start the click log recovers from a torn tail and refuses interior damage, naming the file
// and offset. Method: a one-partition server takes ten clicks of one ad and stops; the test damages the
// segment file on disk, deletes the store so everything is rebuilt from the log, and starts again.
using System.Net;

namespace Tollbooth.Tests;

public sealed class LogRecoveryTests
{
    private static async Task<(TollboothProcess Server, string Segment, string Ad)> ServerWithTenClicksAsync()
    {
        var server = new TollboothProcess(null, "--Log:Partitions", "1");
        server.Start();
        string ad = "ad-recovery";
        using (var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey))
        {
            for (int i = 0; i < 10; i++)
            {
                string at = DateTimeOffset.UtcNow.AddMinutes(-2).ToString("O");
                using HttpResponseMessage response = await client.PostClicksAsync($"{{\"click_id\":\"r{i}\",\"ad_id\":\"{ad}\",\"advertiser_id\":\"adv1\",\"timestamp\":\"{at}\"}}");
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            await client.WaitForLagZeroAsync();
        }

        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
        string segment = Directory.GetFiles(Path.Combine(server.DataDirectory, "log"), "*.seg", SearchOption.AllDirectories).Single();
        foreach (string file in Directory.GetFiles(server.DataDirectory, "tollbooth.duckdb*"))
        {
            File.Delete(file);
        }

        return (server, segment, ad);
    }

    [Fact]
    public async Task Torn_last_record_is_cut_and_every_click_before_it_is_counted()
    {
        (TollboothProcess server, string segment, string ad) = await ServerWithTenClicksAsync();
        using (server)
        {
            using (var stream = new FileStream(segment, FileMode.Open))
            {
                stream.SetLength(stream.Length - 5);
            }

            server.Start();
            using var client = new TollboothClient(server.BaseAddress, TollboothProcess.AdminKey);
            await client.WaitForLagZeroAsync();
            Assert.Equal(9, await client.CountAsync(ad, DateTimeOffset.UtcNow.AddHours(-1).ToString("O"), DateTimeOffset.UtcNow.AddHours(1).ToString("O")));
            Assert.Contains("warning", server.Output);
        }
    }

    [Fact]
    public async Task Flipped_byte_in_an_interior_record_stops_start_up_naming_file_and_offset()
    {
        (TollboothProcess server, string segment, string _) = await ServerWithTenClicksAsync();
        using (server)
        {
            byte[] bytes = File.ReadAllBytes(segment);
            int middle = bytes.Length / 2;
            bytes[middle] ^= 0x40;
            File.WriteAllBytes(segment, bytes);

            (int code, string output, string error) = TollboothProcess.RunVerb("serve", "--data", server.DataDirectory, "--Log:Partitions", "1", "--urls", "http://127.0.0.1:0");
            Assert.NotEqual(0, code);
            Assert.Contains(Path.GetFileName(segment), error);
            Assert.Contains("offset", error);
            Assert.DoesNotContain("listening on", output);
        }
    }
}

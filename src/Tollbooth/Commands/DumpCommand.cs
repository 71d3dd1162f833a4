using System.Security.Cryptography;
using System.Text;
using Tollbooth.Core;
using Tollbooth.Processing;

namespace Tollbooth.Commands;

/// <summary>
/// <c>tollbooth dump --data DIR</c>: prints every stored row, one canonical line each in a fixed
/// order, then <c>rows N sha256 H</c>. Two stores hold the same rows exactly when the last lines match.
/// </summary>
public static class DumpCommand
{
    public static int Run(TollboothSettings settings, bool summaryOnly)
    {
        using DataDirectory data = DataDirectory.OpenExisting(settings, "dump", message => Console.Error.WriteLine($"warning: {message}"));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Emit(string line)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(line + "\n"));
            if (!summaryOnly)
            {
                Console.WriteLine(line);
            }
        }

        int count = 0;
        foreach ((int partition, WindowRow row) in data.Store.ReadAllRows())
        {
            Emit(Line(partition, row));
            count++;
        }

        // The changes feed, in feed order: the same log must give the same feed.
        var next = new long[data.Log.PartitionCount];
        while (true)
        {
            IReadOnlyList<StoredChange> page = data.Store.ReadChanges(next, 10_000, null);
            if (page.Count == 0)
            {
                break;
            }

            foreach (StoredChange change in page)
            {
                next[change.Partition] = change.Sequence + 1;
                Emit(ChangeLine(change));
            }
        }

        for (int partition = 0; partition < data.Log.PartitionCount; partition++)
        {
            PartitionCheckpoint checkpoint = data.Store.ReadCheckpoint(partition);
            Emit($"checkpoint {partition} {checkpoint.NextPosition} {checkpoint.MaxEventTimeMs} {checkpoint.NextChangeSequence}");
        }

        Console.WriteLine($"rows {count} sha256 {Convert.ToHexStringLower(hash.GetHashAndReset())}");
        return 0;
    }

    private static string Line(int partition, WindowRow row)
    {
        WindowKey key = row.Key;
        return string.Join(
            '\t',
            partition,
            TimeText.Format(key.Minute * 60_000),
            key.AdId,
            key.AdvertiserId,
            key.CampaignId,
            key.PublisherId,
            key.Country,
            DeviceNames.ToWire(key.Device),
            row.Received,
            row.Clicks,
            row.SpendMicros,
            row.DuplicateClicks,
            row.InvalidBadToken,
            row.InvalidBot,
            row.InvalidRate,
            row.InvalidUnsigned,
            row.TooLate,
            row.LateClicks,
            row.Users.Estimate(),
            Convert.ToHexStringLower(row.Users.Serialize()),
            WindowStatusNames.ToWire(row.Status),
            row.Revision,
            row.Pending ? "pending" : "published",
            row.RuleVersion);
    }

    private static string ChangeLine(StoredChange change)
    {
        WindowKey key = change.Key;
        WindowNumbers n = change.Numbers;
        return string.Join(
            '\t',
            "change",
            change.Partition,
            change.Sequence,
            TimeText.Format(key.Minute * 60_000),
            key.AdId,
            key.AdvertiserId,
            key.CampaignId,
            key.PublisherId,
            key.Country,
            DeviceNames.ToWire(key.Device),
            WindowStatusNames.ToWire(change.Status),
            change.Revision,
            n.Received,
            n.Clicks,
            n.SpendMicros,
            n.DuplicateClicks,
            n.InvalidClicks,
            n.TooLate,
            n.LateClicks,
            n.UniqueUsers,
            change.RuleVersion);
    }
}

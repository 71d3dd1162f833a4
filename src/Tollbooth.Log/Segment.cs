using System.Globalization;

namespace Tollbooth.Log;

/// <summary>One segment file of a partition: <c>{FirstPosition:D20}.seg</c>, holding records from <see cref="FirstPosition"/> on.</summary>
internal sealed record Segment(long FirstPosition, string Path)
{
    public const string Extension = ".seg";

    public static string FileName(long firstPosition)
    {
        return firstPosition.ToString("D20", CultureInfo.InvariantCulture) + Extension;
    }

    public static string PartitionDirectory(string root, int partition)
    {
        return System.IO.Path.Combine(root, "p" + partition.ToString("D2", CultureInfo.InvariantCulture));
    }

    /// <summary>Parses a segment file's name; false when it is not 20 digits followed by <see cref="Extension"/>.</summary>
    public static bool TryParse(string path, out Segment segment)
    {
        string name = System.IO.Path.GetFileName(path);
        segment = new Segment(0, path);
        if (name.Length != 20 + Extension.Length || !name.EndsWith(Extension, StringComparison.Ordinal))
        {
            return false;
        }

        if (!long.TryParse(name.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out long firstPosition))
        {
            return false;
        }

        segment = new Segment(firstPosition, path);
        return true;
    }

    /// <summary>The index of the segment holding <paramref name="position"/>: the last one starting at or before it.</summary>
    public static int IndexOf(Segment[] segments, long position)
    {
        int low = 0;
        int high = segments.Length - 1;
        while (low < high)
        {
            int middle = (low + high + 1) / 2;
            if (segments[middle].FirstPosition <= position)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }
}

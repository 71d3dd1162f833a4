using System.Runtime.InteropServices;

namespace Tollbooth.Core;

public sealed partial class DedupIndex
{
    /// <summary>
    /// One table entry, 24 bytes: the fingerprint and a packed word holding
    /// <c>((position − base + 1) &lt;&lt; 24) | (minute − 2020-01-01)</c>. A packed word of 0 marks an empty
    /// slot, which is why the relative position is stored plus one: a fresh zeroed array is an empty table.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public ulong High;
        public ulong Low;
        public ulong Packed;

        public Slot(ulong high, ulong low, ulong packed)
        {
            High = high;
            Low = low;
            Packed = packed;
        }

        public readonly bool IsEmpty => Packed == EmptyPacked;
    }
}

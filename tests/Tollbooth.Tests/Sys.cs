using System.Runtime.InteropServices;

namespace Tollbooth.Tests;

internal static partial class Sys
{
    public const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}

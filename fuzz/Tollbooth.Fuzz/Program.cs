using SharpFuzz;

namespace Tollbooth.Fuzz;

/// <summary>
/// <c>Tollbooth.Fuzz TARGET</c>: AFL's fork server (under afl-fuzz; fuzz/run starts it) or one input from
/// standard input; <c>Tollbooth.Fuzz replay TARGET FILE...</c>: runs saved inputs and reports each;
/// <c>Tollbooth.Fuzz seed DIRECTORY</c>: writes the starting corpus of every target.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length >= 2 && args[0] == "seed")
        {
            Seeds.Write(args[1]);
            return 0;
        }

        if (args.Length >= 2 && args[0] == "replay")
        {
            return Replay(args[1], args[2..]);
        }

        if (args.Length != 1 || !FuzzTargets.Names.Contains(args[0]))
        {
            Console.Error.WriteLine($"usage: Tollbooth.Fuzz TARGET | replay TARGET FILE... | seed DIRECTORY; targets: {string.Join(", ", FuzzTargets.Names)}");
            return 2;
        }

        string target = args[0];
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            FuzzTargets.Run(target, buffer.ToArray());
        });
        return 0;
    }

    private static int Replay(string target, string[] files)
    {
        int failed = 0;
        foreach (string file in files)
        {
            try
            {
                FuzzResult result = FuzzTargets.Run(target, File.ReadAllBytes(file));
                Console.WriteLine($"ok {file}: {result}");
            }
            catch (Exception exception)
            {
                failed++;
                Console.WriteLine($"FAILED {file}: {exception}");
            }
        }

        return failed == 0 ? 0 : 1;
    }
}

using System.Globalization;

namespace Tollbooth.Commands;

/// <summary>
/// Progress of a long command (<c>replay</c>, <c>reconcile</c>, <c>loadgen</c>). On a terminal one line is
/// redrawn in place (a bar when the total is known), at most ten times a second; when the output is
/// redirected, a plain line is written every <c>plainInterval</c> and never an escape code or a carriage
/// return, so logs and pipes stay readable.
/// </summary>
public sealed class ProgressDisplay
{
    private const int BarWidth = 30;
    private static readonly TimeSpan s_redrawInterval = TimeSpan.FromMilliseconds(100);

    private readonly TextWriter _output;
    private readonly TimeProvider _time;
    private readonly TimeSpan _plainInterval;
    private readonly object _gate = new();
    private long _lastWrittenTicks;
    private bool _drawn;

    public ProgressDisplay(TextWriter output, bool terminal, TimeSpan plainInterval, TimeProvider? time = null)
    {
        _output = output;
        IsTerminal = terminal;
        _plainInterval = plainInterval;
        _time = time ?? TimeProvider.System;
        _lastWrittenTicks = _time.GetTimestamp();
    }

    /// <summary>True when lines are redrawn in place; false when plain lines are written.</summary>
    public bool IsTerminal { get; }

    /// <summary>Progress on standard output: redrawn on a terminal, a plain line every <paramref name="plainInterval"/> otherwise.</summary>
    public static ProgressDisplay ForConsole(TimeSpan plainInterval) => new(Console.Out, !Console.IsOutputRedirected, plainInterval);

    /// <summary>Shows <paramref name="text"/>; a plain line is written only when the interval has passed.</summary>
    public void Update(string text)
    {
        lock (_gate)
        {
            TimeSpan since = _time.GetElapsedTime(_lastWrittenTicks);
            if (since < (IsTerminal ? s_redrawInterval : _plainInterval))
            {
                return;
            }

            _lastWrittenTicks = _time.GetTimestamp();
            if (IsTerminal)
            {
                Redraw(text);
            }
            else
            {
                _output.WriteLine(text);
            }
        }
    }

    /// <summary>Shows <paramref name="done"/> of <paramref name="total"/> as a bar on a terminal, as "done of total" otherwise.</summary>
    public void Update(long done, long total, string what, string detail = "")
    {
        string suffix = detail.Length > 0 ? ", " + detail : "";
        Update(IsTerminal
            ? $"{Bar(done, total)} {Number(done)}/{Number(total)} {what}{suffix}"
            : $"{Number(done)} of {Number(total)} {what}{suffix}");
    }

    /// <summary>Replaces the redrawn line (if any) with <paramref name="text"/> on a line of its own.</summary>
    public void Finish(string text)
    {
        lock (_gate)
        {
            if (IsTerminal && _drawn)
            {
                _output.Write("\r\u001b[K");
                _drawn = false;
            }

            _output.WriteLine(text);
            _output.Flush();
            _lastWrittenTicks = _time.GetTimestamp();
        }
    }

    /// <summary>A bar such as <c>[#########.....................]  30%</c>.</summary>
    public static string Bar(long done, long total)
    {
        long clamped = Math.Clamp(done, 0, Math.Max(total, 0));
        int filled = total <= 0 ? BarWidth : (int)(clamped * BarWidth / total);
        int percent = total <= 0 ? 100 : (int)(clamped * 100 / total);
        return $"[{new string('#', filled)}{new string('.', BarWidth - filled)}] {percent,3}%";
    }

    /// <summary>A count with thousands separators, the same in every culture.</summary>
    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private void Redraw(string text)
    {
        int width = TerminalWidth();
        string shown = text.Length < width ? text : text[..Math.Max(0, width - 1)];
        _output.Write("\r" + shown + "\u001b[K");
        _output.Flush();
        _drawn = true;
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 120;
        }
        catch (IOException)
        {
            return 120;
        }
    }
}

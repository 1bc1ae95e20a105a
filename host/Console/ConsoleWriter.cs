using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Console;

/// <summary>The one writer of stderr for a command: its log lines and its progress. Two modes, chosen once:
/// <list type="bullet">
/// <item><b>live</b> — stderr is the process's own terminal and the verbosity is normal: progress is drawn as bars
/// (Spectre.Console) at the bottom of the screen, every log line is printed <i>above</i> them through the same
/// console (so redraws never overwrite or lose it), and a finished task leaves one finished bar line behind;</item>
/// <item><b>lines</b> — stderr is a file or a pipe or a terminal that cannot redraw, or the verbosity is detailed or more (or quiet/minimal): log
/// lines and progress as plain lines (<see cref="LineProgressReporter"/>), a readable record in CI logs.</item>
/// </list>
/// Logs go through <see cref="Logger"/>, progress through <see cref="Run{T}"/>; nothing else writes to stderr while
/// work runs (errors are written by the command line after the work has stopped).</summary>
public sealed class ConsoleWriter : IProgressReporter
{
    private readonly TextWriter _error;
    private readonly object _gate = new();
    private readonly SpectreProgressReporter? _bars;
    private IProgressReporter _progress;
    private int _depth;

    /// <summary>A writer on <paramref name="error"/> at <paramref name="verbosity"/>; <paramref name="live"/> forces a
    /// mode (tests), otherwise live when <paramref name="error"/> is the terminal's stderr.</summary>
    public ConsoleWriter(TextWriter error, Verbosity verbosity, bool? live = null)
    {
        _error = error;
        Verbosity = verbosity;
        if ((live ?? IsTerminal(error)) && verbosity == Verbosity.Normal)
        {
            var bars = new SpectreProgressReporter(error);
            if (live == true || bars.CanRedraw) _bars = bars;   // a terminal that cannot redraw (TERM=dumb) gets lines
        }
        ShowsBars = _bars is not null;
        _progress = new LineProgressReporter(this, verbosity);
        Logger = new StderrLogger(this, verbosity);
    }

    /// <summary>How much is shown.</summary>
    public Verbosity Verbosity { get; }

    /// <summary>Whether progress is drawn as live bars (see the class summary).</summary>
    public bool ShowsBars { get; }

    /// <summary>The logger writing through this console.</summary>
    public IPluginLogger Logger { get; }

    /// <summary>Whether <paramref name="error"/> is this process's stderr and that is a terminal.</summary>
    public static bool IsTerminal(TextWriter error) => ReferenceEquals(error, System.Console.Error) && !System.Console.IsErrorRedirected;

    /// <summary>Writes one line: above the bars while they are live, else plainly.</summary>
    public void WriteLine(string line)
    {
        lock (_gate)
        {
            if (_bars is not null && _depth > 0) _bars.WriteLine(line);
            else _error.WriteLine(line);
        }
    }

    /// <summary>Runs <paramref name="work"/> with this console as its progress reporter (live bars for its duration
    /// in live mode) and returns its result. Nested calls share the outer display.</summary>
    public T Run<T>(Func<IProgressReporter, T> work)
    {
        if (_bars is null || _depth > 0) return Enter(work);
        return _bars.Run(() => Enter(work));
    }

    private T Enter<T>(Func<IProgressReporter, T> work)
    {
        lock (_gate)
        {
            _depth++;
            if (_depth == 1 && _bars is not null) _progress = _bars;
        }
        try { return work(this); }
        finally
        {
            lock (_gate)
            {
                _depth--;
                if (_depth == 0) _progress = new LineProgressReporter(this, Verbosity);
            }
        }
    }

    /// <inheritdoc/>
    public IProgressTask Start(string description, long total) => _progress.Start(description, total);
}

using System.Diagnostics;
using System.Globalization;
using Compressor.Sdk.Diagnostics;
using Spectre.Console;

namespace Compressor.Host.Console;

/// <summary>Progress bars on a terminal (stderr), through Spectre.Console; the live part of <see cref="ConsoleWriter"/>.
/// While <see cref="Run"/> runs, the bars of the running tasks stay at the bottom of the screen; <see cref="WriteLine"/>
/// prints through the same console, which draws the line above the bars (Spectre redraws the live region under it),
/// and a finished task leaves a finished bar line above them (its share done, when it stopped early), so the scroll-back is a complete record.</summary>
public sealed class SpectreProgressReporter : IProgressReporter
{
    /// <summary>Width of the bar of a finished task's line.</summary>
    public const int FinishedBarWidth = 30;

    private readonly IAnsiConsole _console;
    private readonly object _gate = new();
    private ProgressContext? _context;

    /// <summary>Creates a reporter drawing on <paramref name="error"/>.</summary>
    public SpectreProgressReporter(TextWriter error)
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(error), Ansi = AnsiSupport.Detect, ColorSystem = ColorSystemSupport.Detect, Interactive = InteractionSupport.Yes,
        });
    }

    /// <summary>Whether the terminal can redraw bars in place (ANSI escape codes; not <c>TERM=dumb</c>).</summary>
    public bool CanRedraw => _console.Profile.Capabilities.Ansi && _console.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="work"/> with live bars.</summary>
    public T Run<T>(Func<T> work)
    {
        T result = default!;
        _console.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                lock (_gate) _context = ctx;
                try { result = work(); }
                finally { lock (_gate) _context = null; }
            });
        return result;
    }

    /// <summary>Prints <paramref name="line"/> above the bars (as text: no markup is interpreted).</summary>
    public void WriteLine(string line)
    {
        lock (_gate) _console.Write(new Text(line + "\n"));
    }

    /// <inheritdoc/>
    public IProgressTask Start(string description, long total)
    {
        lock (_gate)
        {
            if (_context is null) return NullProgressReporter.Instance;
            var task = _context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
            return new Task(this, task, description);
        }
    }

    private void Finished(string description, double share, TimeSpan elapsed)
    {
        int full = (int)Math.Round(Math.Clamp(share, 0, 1) * FinishedBarWidth);
        string color = full == FinishedBarWidth ? "green" : "yellow";
        string bar = $"[{color}]{new string('━', full)}[/][grey]{new string('━', FinishedBarWidth - full)}[/]";
        string percent = (Math.Clamp(share, 0, 1) * 100).ToString("0", CultureInfo.InvariantCulture) + "%";
        string time = elapsed.TotalHours >= 1 ? elapsed.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : elapsed.ToString(@"mm\:ss", CultureInfo.InvariantCulture);
        lock (_gate)
            _console.Write(new Markup($"{Markup.Escape(description)} {bar} [{color}]{percent}[/] [blue]{time}[/]\n"));
    }

    private sealed class Task(SpectreProgressReporter owner, ProgressTask task, string description) : IProgressTask
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private bool _disposed;

        public void Advance(long units = 1, string? status = null)
        {
            task.Increment(units);
            if (status is not null) task.Description = Markup.Escape($"{description} {status}");
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            // The finished line shows how much was done: a task left early (an error, early stopping) shows its share.
            double share = task.Value / task.MaxValue;
            task.Description = Markup.Escape(description);
            task.Value = task.MaxValue;
            task.StopTask();
            owner.Finished(description, share, _clock.Elapsed);
        }
    }
}

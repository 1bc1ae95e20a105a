using Compressor.Sdk.Diagnostics;
using Spectre.Console;

namespace Compressor.Host.Console;

/// <summary>Progress bars on a terminal (stderr), through Spectre.Console. Wrap the work in <see cref="Run"/>.</summary>
public sealed class SpectreProgressReporter : IProgressReporter
{
    private readonly IAnsiConsole _console;
    private ProgressContext? _context;

    /// <summary>Creates a reporter drawing on <paramref name="error"/>.</summary>
    public SpectreProgressReporter(TextWriter error)
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(error) });
    }

    /// <summary>Runs <paramref name="work"/> with live bars.</summary>
    public T Run<T>(Func<T> work)
    {
        T result = default!;
        _console.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx => { _context = ctx; result = work(); });
        _context = null;
        return result;
    }

    /// <inheritdoc/>
    public IProgressTask Start(string description, long total)
    {
        if (_context is null) return NullProgressReporter.Instance;
        var task = _context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
        return new Task(task, description);
    }

    private sealed class Task(ProgressTask task, string description) : IProgressTask
    {
        public void Advance(long units = 1, string? status = null)
        {
            task.Increment(units);
            if (status is not null) task.Description = Markup.Escape($"{description} {status}");
        }

        public void Dispose()
        {
            task.Description = Markup.Escape(description);
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }
}

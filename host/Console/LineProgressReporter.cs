using System.Diagnostics;
using System.Globalization;
using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Console;

/// <summary>Progress as plain lines (when stderr is not a terminal, or at detailed verbosity): a line at the start,
/// then at most one line per second or per 10% of the work, and one at the end with the elapsed time — a readable
/// completion record in CI logs. Shown from normal verbosity up.</summary>
public sealed class LineProgressReporter(ConsoleWriter console, Verbosity verbosity) : IProgressReporter
{
    /// <inheritdoc/>
    public IProgressTask Start(string description, long total) => new Task(console, verbosity >= Verbosity.Normal, description, total);

    private sealed class Task : IProgressTask
    {
        private readonly ConsoleWriter _console;
        private readonly bool _show;
        private readonly string _description;
        private readonly long _total;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _done, _lastPrinted;
        private TimeSpan _lastTime;
        private bool _disposed;

        public Task(ConsoleWriter console, bool show, string description, long total)
        {
            _console = console; _show = show; _description = description; _total = Math.Max(1, total);
            if (_show) _console.WriteLine($"{_description}: 0/{_total}");
        }

        public void Advance(long units = 1, string? status = null)
        {
            _done += units;
            if (!_show) return;
            bool step = _done * 10 / _total > _lastPrinted * 10 / _total;
            if (_done >= _total || step || _clock.Elapsed - _lastTime > TimeSpan.FromSeconds(1))
            {
                _console.WriteLine($"{_description}: {_done}/{_total}{(status is null ? "" : " " + status)}");
                _lastPrinted = _done;
                _lastTime = _clock.Elapsed;
            }
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (_show) _console.WriteLine($"{_description}: done in {_clock.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        }
    }
}

using System.Diagnostics;
using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Console;

/// <summary>Progress as plain lines (when stderr is not a terminal): a line at the start, then at most one line
/// per second or per 10% of the work, and one at the end with the elapsed time — a readable completion record
/// in CI logs.</summary>
public sealed class LineProgressReporter(TextWriter error, Verbosity verbosity) : IProgressReporter
{
    /// <inheritdoc/>
    public IProgressTask Start(string description, long total) => new Task(error, verbosity >= Verbosity.Normal, description, total);

    private sealed class Task : IProgressTask
    {
        private readonly TextWriter _error;
        private readonly bool _show;
        private readonly string _description;
        private readonly long _total;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _done, _lastPrinted = -1;
        private TimeSpan _lastTime;

        public Task(TextWriter error, bool show, string description, long total)
        {
            _error = error; _show = show; _description = description; _total = Math.Max(1, total);
            if (_show) _error.WriteLine($"{_description}: 0/{_total}");
        }

        public void Advance(long units = 1, string? status = null)
        {
            _done += units;
            if (!_show) return;
            bool step = _done * 10 / _total > _lastPrinted * 10 / _total;
            if (_done >= _total || step || _clock.Elapsed - _lastTime > TimeSpan.FromSeconds(1))
            {
                _error.WriteLine($"{_description}: {_done}/{_total}{(status is null ? "" : " " + status)}");
                _lastPrinted = _done;
                _lastTime = _clock.Elapsed;
            }
        }

        public void Dispose()
        {
            if (_show) _error.WriteLine($"{_description}: done in {_clock.Elapsed.TotalSeconds:F1} s");
        }
    }
}

using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Console;

/// <summary>Chooses how long work shows its progress on stderr: live bars (<see cref="SpectreProgressReporter"/>) when
/// stderr is the process's own terminal and the verbosity is normal or more, otherwise plain lines
/// (<see cref="LineProgressReporter"/>) — a readable record in CI logs and in tests' writers.</summary>
/// <param name="error">The writer for progress and logs.</param>
/// <param name="verbosity">How much to show.</param>
public sealed class ProgressDisplay(TextWriter error, Verbosity verbosity)
{
    /// <summary>Whether progress is drawn as live bars.</summary>
    public bool ShowsBars => !System.Console.IsErrorRedirected && ReferenceEquals(error, System.Console.Error) && verbosity >= Verbosity.Normal;

    /// <summary>Runs <paramref name="work"/> with the chosen reporter and returns its result.</summary>
    public T Run<T>(Func<IProgressReporter, T> work)
    {
        if (!ShowsBars) return work(new LineProgressReporter(error, verbosity));
        var bars = new SpectreProgressReporter(error);
        return bars.Run(() => work(bars));
    }
}

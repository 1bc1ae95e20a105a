using System.Runtime.InteropServices;

namespace Compressor.Host.Commands;

/// <summary>SIGINT (Ctrl+C) and SIGTERM (what <c>kill</c>, a job scheduler or a container runtime sends) both ask the
/// running work to stop through one cancellation token: it ends with one <c>error: cancelled</c> line, removes its
/// staging and temporary files, and exits with 130 for SIGINT or 143 for SIGTERM (128 + the signal's number, the
/// shell's convention). A second signal of either kind ends the process at once.</summary>
public sealed class ShutdownSignals : IDisposable
{
    private readonly CancellationTokenSource _cancellation;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signal;

    private ShutdownSignals(CancellationTokenSource cancellation)
    {
        _cancellation = cancellation;
        System.Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows()) _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnTerminate));
    }

    /// <summary>Routes SIGINT and SIGTERM to <paramref name="cancellation"/> until disposed.</summary>
    public static ShutdownSignals Register(CancellationTokenSource cancellation) => new(cancellation);

    /// <summary>The signal that cancelled the work (2 for SIGINT, 15 for SIGTERM), or 0.</summary>
    public int Signal => Volatile.Read(ref _signal);

    /// <summary>The process's exit code for a command that returned <paramref name="code"/>: a cancellation caused by
    /// SIGTERM exits with <see cref="ExitCode.Terminated"/> instead of <see cref="ExitCode.Cancelled"/>.</summary>
    public int ExitCodeFor(int code) => code == (int)ExitCode.Cancelled && Signal == 15 ? (int)ExitCode.Terminated : code;

    /// <inheritdoc/>
    public void Dispose()
    {
        System.Console.CancelKeyPress -= OnCancelKeyPress;
        foreach (var r in _registrations) r.Dispose();
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (!First(2)) return;   // the second Ctrl+C ends the process
        e.Cancel = true;
    }

    private void OnTerminate(PosixSignalContext context)
    {
        if (!First(15)) return;  // the second signal ends the process
        context.Cancel = true;
    }

    private bool First(int signal)
    {
        if (Interlocked.CompareExchange(ref _signal, signal, 0) != 0 || _cancellation.IsCancellationRequested) return false;
        _cancellation.Cancel();
        return true;
    }
}

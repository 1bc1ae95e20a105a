namespace Compressor.Host.Commands;

/// <summary>The <c>compress</c> executable: runs <see cref="CliApp"/> on the process's arguments and writers.</summary>
public static class Program
{
    /// <summary>Ctrl+C (SIGINT) and SIGTERM ask the running work to stop (exit code 130, or 143 for SIGTERM, one
    /// <c>error: cancelled</c> line, nothing written); a second signal ends the process at once.</summary>
    public static int Main(string[] args)
    {
        // This process has done no libtorch work yet: --threads may size its inter-op pool (once).
        Compressor.Engine.Runtime.ComputeThreads.InterOpSettable = true;
        using var cancellation = new CancellationTokenSource();
        using var signals = ShutdownSignals.Register(cancellation);
        int code = CliApp.Run(args, System.Console.Out, System.Console.Error, cancellation.Token);
        return signals.ExitCodeFor(code);
    }
}

namespace Compressor.Host.Commands;

/// <summary>The <c>compress</c> executable: runs <see cref="CliApp"/> on the process's arguments and writers.</summary>
public static class Program
{
    /// <summary>Ctrl+C asks the running work to stop (exit code 130, nothing written); a second Ctrl+C ends the process at once.</summary>
    public static int Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        System.Console.CancelKeyPress += (_, e) =>
        {
            if (cancellation.IsCancellationRequested) return;
            e.Cancel = true;
            cancellation.Cancel();
        };
        return CliApp.Run(args, System.Console.Out, System.Console.Error, cancellation.Token);
    }
}

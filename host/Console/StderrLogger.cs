using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Console;

/// <summary>Writes log lines through the command's <see cref="ConsoleWriter"/> (above the progress bars on a
/// terminal), filtered by verbosity.</summary>
public sealed class StderrLogger(ConsoleWriter console, Verbosity verbosity) : IPluginLogger
{
    /// <inheritdoc/>
    public void Log(LogLevel level, string message)
    {
        if (!verbosity.Shows(level)) return;
        string prefix = level switch { LogLevel.Error => "error: ", LogLevel.Warning => "warning: ", _ => "" };
        // Log lines often quote names from files (layers, tensors, paths): escaped, so a file cannot send terminal codes.
        console.WriteLine(prefix + TerminalText.Cell(message, 4000));
    }
}

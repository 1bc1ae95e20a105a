using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Console;

/// <summary>Writes log lines to the error writer, filtered by verbosity.</summary>
public sealed class StderrLogger(TextWriter error, Verbosity verbosity) : IPluginLogger
{
    private readonly object _gate = new();

    /// <inheritdoc/>
    public void Log(LogLevel level, string message)
    {
        if (!verbosity.Shows(level)) return;
        string prefix = level switch { LogLevel.Error => "error: ", LogLevel.Warning => "warning: ", _ => "" };
        // Log lines often quote names from files (layers, tensors, paths): escaped, so a file cannot send terminal codes.
        lock (_gate) error.WriteLine(prefix + TerminalText.Cell(message, 4000));
    }
}

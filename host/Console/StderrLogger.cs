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
        lock (_gate) error.WriteLine(prefix + message);
    }
}

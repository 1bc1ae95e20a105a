using Compressor.Host.Console;
using Compressor.Host.Plugins;
using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Commands;

/// <summary>What a command handler gets besides its arguments: the writers (stdout for results, stderr for logs
/// and progress), verbosity, output format, plugin folders, and cancellation.</summary>
public sealed record CommandEnvironment(TextWriter Out, TextWriter Error, Verbosity Verbosity, bool Json, IReadOnlyList<string> PluginDirectories,
    CancellationToken Cancellation)
{
    /// <summary>Discovers the plugins (and with them the run's compressed layer kinds).</summary>
    public PluginCatalog Catalog() => PluginCatalog.Discover(PluginCatalog.SearchPath(PluginDirectories));

    private ConsoleWriter? _console;

    /// <summary>The one writer of stderr for this command: logs and progress (<see cref="ConsoleWriter"/>).</summary>
    public ConsoleWriter Console => _console ??= new ConsoleWriter(Error, Verbosity);

    /// <summary>The logger for this command (through <see cref="Console"/>).</summary>
    public IPluginLogger Logger() => Console.Logger;

    /// <summary>How this command shows progress (<see cref="Console"/>).</summary>
    public ConsoleWriter Progress() => Console;
}

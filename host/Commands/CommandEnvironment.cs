using Compressor.Host.Console;
using Compressor.Host.Plugins;

namespace Compressor.Host.Commands;

/// <summary>What a command handler gets besides its arguments: the writers (stdout for results, stderr for logs
/// and progress), verbosity, output format, plugin folders, and cancellation.</summary>
public sealed record CommandEnvironment(TextWriter Out, TextWriter Error, Verbosity Verbosity, bool Json, IReadOnlyList<string> PluginDirectories,
    CancellationToken Cancellation)
{
    /// <summary>Discovers the plugins (and with them the run's compressed layer kinds).</summary>
    public PluginCatalog Catalog() => PluginCatalog.Discover(PluginCatalog.SearchPath(PluginDirectories));

    /// <summary>The logger for this command.</summary>
    public StderrLogger Logger() => new(Error, Verbosity);

    /// <summary>How this command shows progress.</summary>
    public ProgressDisplay Progress() => new(Error, Verbosity);
}

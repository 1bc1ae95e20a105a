namespace Compressor.Host.Commands;

/// <summary><c>compress plugin list --format json</c>: this host's SDK version, the folders searched, and every
/// plugin found.</summary>
public sealed record PluginListOutput(int SchemaVersion, string SdkVersion, IReadOnlyList<string> Searched, IReadOnlyList<PluginListEntry> Plugins);

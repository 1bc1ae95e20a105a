namespace Compressor.Host.Commands;

/// <summary><c>compress plugin list --format json</c>: this host's SDK version, the folders searched, every plugin
/// found, and the device plugins run on (<see cref="Native.DeviceInfo"/>).</summary>
public sealed record PluginListOutput(int SchemaVersion, string SdkVersion, IReadOnlyList<string> Searched, IReadOnlyList<PluginListEntry> Plugins,
    Native.DeviceInfo Device);

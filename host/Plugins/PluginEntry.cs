using Compressor.Sdk.Plugins;

namespace Compressor.Host.Plugins;

/// <summary>A plugin as the catalog found it: where, its manifest (when readable), its status and the loaded instance.</summary>
public sealed record PluginEntry(string Id, string Directory, PluginManifest? Manifest, PluginStatus Status, string Reason, ICompressionPlugin? Instance)
{
    /// <summary>Whether the plugin can run.</summary>
    public bool IsAvailable => Status == PluginStatus.Available && Instance is not null;
}

using Compressor.Engine.Plugins;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Plugins;

namespace Compressor.Host.Plugins;

/// <summary>A plugin as the catalog found it: where, its manifest (when readable), its status, the loaded instance and
/// the compressed layer kinds it declared (read once, when it loaded).</summary>
public sealed record PluginEntry(string Id, string Directory, PluginManifest? Manifest, PluginStatus Status, string Reason, ICompressionPlugin? Instance)
{
    /// <summary>The compressed layer kinds the plugin hands to the host (empty unless available).</summary>
    public IReadOnlyList<ILayerKind> LayerKinds { get; init; } = [];

    /// <summary>Whether the plugin can run.</summary>
    public bool IsAvailable => Status == PluginStatus.Available && Instance is not null;

    /// <summary>This entry, no longer available for <paramref name="reason"/>.</summary>
    public PluginEntry Unavailable(PluginStatus status, string reason) => this with { Status = status, Reason = reason, Instance = null, LayerKinds = [] };
}

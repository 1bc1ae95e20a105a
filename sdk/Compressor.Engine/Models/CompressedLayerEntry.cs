using System.Text.Json.Nodes;

namespace Compressor.Engine.Models;

/// <summary>One compressed layer in a manifest: its kind, the version of its config's file form, and the config
/// (see <see cref="Kinds.LayerConfigJson"/>).</summary>
/// <param name="Kind">The kind id, e.g. <c>quantized_linear</c>.</param>
/// <param name="ConfigVersion">The kind's config version the config was written at (1 in format-1 manifests).</param>
/// <param name="Config">The config, camelCase JSON.</param>
public sealed record CompressedLayerEntry(string Kind, int ConfigVersion, JsonObject Config);

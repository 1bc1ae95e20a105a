using System.Text.Json.Nodes;
using TorchSharp;

namespace Compressor.Sdk.Layers;

/// <summary>One compressed layer kind, declared once: its id, its typed and versioned config record, the factory that
/// rebuilds an empty layer from a config (so checkpoints reload), and the lowering that writes the layer as ONNX nodes
/// (so models export). A plugin hands the kinds it creates to the host through
/// <see cref="Plugins.ICompressionPlugin.LayerKinds"/>; there is no global registry. Derive from
/// <see cref="LayerKind{TLayer, TConfig}"/> rather than implementing this interface.</summary>
public interface ILayerKind
{
    /// <summary>The kind id stored in checkpoints, lower-case with underscores (e.g. <c>quantized_linear</c>). It never
    /// changes once files exist: a new form is a new id or a new <see cref="ConfigVersion"/>.</summary>
    string Id { get; }

    /// <summary>The version of the config's file form, written beside each layer's config (1 for a new kind). Bump it
    /// when a field is renamed or changes meaning, and convert older forms in <see cref="UpgradeConfig"/>.</summary>
    int ConfigVersion { get; }

    /// <summary>The config record type: public properties, or a positional record, serialised as camelCase JSON.</summary>
    Type ConfigType { get; }

    /// <summary>Creates an empty layer (correctly shaped, uninitialised tensors) from a config.</summary>
    /// <exception cref="CompressException">A config that does not describe a valid layer (kind
    /// <see cref="ErrorKind.InvalidInput"/>).</exception>
    torch.nn.Module Create(object config);

    /// <summary>Adds the initializers and nodes that compute <paramref name="output"/> from <paramref name="input"/>
    /// for <paramref name="layer"/> (a layer of this kind). Lowering code lives apart from the algorithm: the layer
    /// itself never depends on ONNX.</summary>
    void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output);

    /// <summary>Rewrites, in place, the JSON of a config written at <paramref name="fromVersion"/> (older than
    /// <see cref="ConfigVersion"/>) into the current form, before it is read.</summary>
    void UpgradeConfig(int fromVersion, JsonObject config);
}

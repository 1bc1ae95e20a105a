using System.Text.Json.Nodes;
using TorchSharp;

namespace Compressor.Sdk.Layers;

/// <summary>The base of every compressed layer kind (see <see cref="ILayerKind"/>): typed on the layer module and its
/// config record, so that a kind is one small class naming its id, its factory and its lowering.</summary>
/// <typeparam name="TLayer">The layer module.</typeparam>
/// <typeparam name="TConfig">The config record the layer reports as <see cref="ICompressedLayer.Config"/>.</typeparam>
public abstract class LayerKind<TLayer, TConfig> : ILayerKind
    where TLayer : torch.nn.Module, ICompressedLayer
    where TConfig : class
{
    /// <inheritdoc/>
    public abstract string Id { get; }

    /// <inheritdoc/>
    public virtual int ConfigVersion => 1;

    /// <inheritdoc/>
    public Type ConfigType => typeof(TConfig);

    /// <summary>Creates an empty layer from <paramref name="config"/>.</summary>
    public abstract TLayer Create(TConfig config);

    /// <summary>Lowers <paramref name="layer"/> (see <see cref="ILayerKind.Lower"/>).</summary>
    public abstract void Lower(ILoweringContext context, TLayer layer, string input, string output);

    /// <inheritdoc/>
    public virtual void UpgradeConfig(int fromVersion, JsonObject config) { }

    torch.nn.Module ILayerKind.Create(object config) => config is TConfig typed
        ? Create(typed)
        : throw new CompressException(ErrorKind.InvalidInput, $"layer kind '{Id}': expected a {typeof(TConfig).Name} config, got {config?.GetType().Name ?? "null"}");

    void ILayerKind.Lower(ILoweringContext context, torch.nn.Module layer, string input, string output) => Lower(context, layer as TLayer
        ?? throw new ArgumentException($"{context.LayerName}: layer kind '{Id}' lowers {typeof(TLayer).Name} layers, got {layer.GetType().Name}"), input, output);
}

using System.Text.Json.Nodes;
using Compressor.Layers.Geometry;
using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Quantized;

/// <summary>The group-quantized kinds, one per geometry: <c>quantized_linear</c>, <c>quantized_conv2d</c> and
/// <c>quantized_embedding</c> (<see cref="QuantizedLayer"/>, lowered by <see cref="QuantizedLowering"/>).</summary>
/// <typeparam name="TGeometry">The geometry.</typeparam>
public sealed class QuantizedKind<TGeometry> : LayerKind<QuantizedLayer, LayerConfig<QuantizedFormat, TGeometry>> where TGeometry : WeightGeometry
{
    private readonly int _configVersion;
    private readonly Action<int, JsonObject>? _upgrade;

    internal QuantizedKind(string geometryId, int configVersion = 1, Action<int, JsonObject>? upgrade = null)
    {
        Id = QuantizedLayer.Representation + "_" + geometryId;
        _configVersion = configVersion;
        _upgrade = upgrade;
    }

    /// <inheritdoc/>
    public override string Id { get; }

    /// <inheritdoc/>
    public override int ConfigVersion => _configVersion;

    /// <inheritdoc/>
    public override QuantizedLayer Create(LayerConfig<QuantizedFormat, TGeometry> config) => new(config.Format, config.Geometry);

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, QuantizedLayer layer, string input, string output) =>
        GeometryLowering.Lower(context, layer, QuantizedLowering.Instance, input, output);

    /// <inheritdoc/>
    public override void UpgradeConfig(int fromVersion, JsonObject config) => _upgrade?.Invoke(fromVersion, config);
}

using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>The <c>topk_masked_linear</c> kind: <see cref="TopKMaskedLinear"/>, lowered by <see cref="TopKMaskedLowering"/>.</summary>
public sealed class TopKMaskedKind : LayerKind<TopKMaskedLinear, LayerConfig<TopKMaskedFormat, LinearGeometry>>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "topk_masked_linear";

    /// <summary>The instance.</summary>
    public static TopKMaskedKind Instance { get; } = new();

    private TopKMaskedKind() { }

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override TopKMaskedLinear Create(LayerConfig<TopKMaskedFormat, LinearGeometry> config) =>
        new(config.Geometry.InFeatures, config.Geometry.OutFeatures, config.Format.Keep, config.Format.Weighted, config.Geometry.Bias);

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, TopKMaskedLinear layer, string input, string output) => TopKMaskedLowering.Lower(context, layer, input, output);
}

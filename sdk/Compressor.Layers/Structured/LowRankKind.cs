using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>The <c>lowrank_linear</c> kind: <see cref="LowRankLinear"/>, lowered by <see cref="LowRankLowering"/>.</summary>
public sealed class LowRankKind : LayerKind<LowRankLinear, LayerConfig<LowRankFormat, LinearGeometry>>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "lowrank_linear";

    /// <summary>The instance.</summary>
    public static LowRankKind Instance { get; } = new();

    private LowRankKind() { }

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override LowRankLinear Create(LayerConfig<LowRankFormat, LinearGeometry> config)
    {
        var (f, g) = (config.Format, config.Geometry);
        return new LowRankLinear(g.InFeatures, g.OutFeatures, f.Rank, g.Bias) { PreMerged = f.PreMerged };
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, LowRankLinear layer, string input, string output) => LowRankLowering.Lower(context, layer, input, output);
}

using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>The <c>blockdense_linear</c> kind: <see cref="BlockDenseLinear"/>, lowered by <see cref="BlockDenseLowering"/>.</summary>
public sealed class BlockDenseKind : LayerKind<BlockDenseLinear, LayerConfig<BlockDenseFormat, LinearGeometry>>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "blockdense_linear";

    /// <summary>The instance.</summary>
    public static BlockDenseKind Instance { get; } = new();

    private BlockDenseKind() { }

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override BlockDenseLinear Create(LayerConfig<BlockDenseFormat, LinearGeometry> config)
    {
        var (f, g) = (config.Format, config.Geometry);
        return new BlockDenseLinear(g.InFeatures, g.OutFeatures, f.Rank, f.Blocks, g.Bias) { PreMerged = f.PreMerged };
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, BlockDenseLinear layer, string input, string output) => BlockDenseLowering.Lower(context, layer, input, output);
}

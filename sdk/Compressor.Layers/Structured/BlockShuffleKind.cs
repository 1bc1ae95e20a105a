using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>The <c>blockshuffle_linear</c> kind: <see cref="BlockShuffleLinear"/>, lowered by <see cref="BlockShuffleLowering"/>.</summary>
public sealed class BlockShuffleKind : LayerKind<BlockShuffleLinear, LayerConfig<BlockShuffleFormat, LinearGeometry>>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "blockshuffle_linear";

    /// <summary>The instance.</summary>
    public static BlockShuffleKind Instance { get; } = new();

    private BlockShuffleKind() { }

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override BlockShuffleLinear Create(LayerConfig<BlockShuffleFormat, LinearGeometry> config)
    {
        var (f, g) = (config.Format, config.Geometry);
        return new BlockShuffleLinear(g.InFeatures, g.OutFeatures, f.Blocks, g.Bias) { PreMerged = f.PreMerged };
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, BlockShuffleLinear layer, string input, string output) => BlockShuffleLowering.Lower(context, layer, input, output);
}

using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>The structured and activation-sparse linear kinds.</summary>
public static class StructuredKinds
{
    /// <summary><c>lowrank_linear</c>, <c>blockshuffle_linear</c>, <c>blockdense_linear</c>, <c>topk_masked_linear</c>.</summary>
    public static IReadOnlyList<ILayerKind> All { get; } = [LowRankKind.Instance, BlockShuffleKind.Instance, BlockDenseKind.Instance, TopKMaskedKind.Instance];
}

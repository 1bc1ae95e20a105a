using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>Lowers <see cref="BlockShuffleLinear"/> to Reshape [T, B, N/B] → Transpose → batched MatMul with
/// W1ᵀ [B, N/B, q] → the stride permutation (Transpose → Reshape [T, q, B] → Transpose [B, T, q]) → batched MatMul
/// with W2ᵀ [B, q, M/B] → the interleaved output order (Transpose [T, M/B, B] → Reshape [..., M]) (+ bias); or to
/// one dense MatMul when <see cref="PreMergeDecision.Merged"/> says so.</summary>
internal static class BlockShuffleLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, BlockShuffleLinear l, string input, string output)
    {
        bool merged = PreMergeDecision.Merged(l, context.DeployTokens);
        if (merged)
        {
            StructuredLowering.PreMerged(context, l, input, output);
            return;
        }
        long b = l.Blocks, n = l.InFeatures, q = l.Inner;
        string xs = Initializers.Node(context, "Reshape", "blocks_in", [input, Initializers.Int64Vector(context, "blocks_in_shape", -1, b, n / b)]);
        xs = StructuredLowering.Transpose(context, xs, "blocks_first", 1, 0, 2);
        string z = Initializers.Node(context, "MatMul", "stage1", [xs, Initializers.Float(context, "w1_t", l.W1.transpose(1, 2))]);
        z = StructuredLowering.Transpose(context, z, "stage1_tokens_first", 1, 0, 2);
        z = Initializers.Node(context, "Reshape", "stride_view", [z, Initializers.Int64Vector(context, "stride_shape", -1, q, b)]);
        z = StructuredLowering.Transpose(context, z, "shuffled", 2, 0, 1);
        string o = Initializers.Node(context, "MatMul", "stage2", [z, Initializers.Float(context, "w2_t", l.W2.transpose(1, 2))]);
        o = StructuredLowering.Transpose(context, o, "interleaved", 1, 2, 0);
        string y = Initializers.Node(context, "Reshape", "blocks_out", [o, StructuredLowering.LeadingShapeWith(context, input, l.OutFeatures)]);
        StructuredLowering.FinishWithBias(context, l.Bias, y, output);
    }
}

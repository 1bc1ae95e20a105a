using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>Lowers <see cref="BlockDenseLinear"/> to Reshape [T, B, N/B] → Transpose → batched MatMul with W1ᵀ
/// [B, N/B, r/B] → Transpose → Reshape [..., r] → MatMul with lrᵀ [r, M] (+ bias); or to one dense MatMul when the
/// layer is merged (<see cref="PreMergeDecision.Merged"/>).</summary>
internal static class BlockDenseLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, BlockDenseLinear l, string input, string output)
    {
        bool merged = PreMergeDecision.Merged(l, context.DeployTokens);
        if (merged)
        {
            StructuredLowering.PreMerged(context, l, input, output);
            return;
        }
        long b = l.Blocks, n = l.InFeatures;
        string xs = Initializers.Node(context, "Reshape", "blocks_in", [input, Initializers.Int64Vector(context, "blocks_in_shape", -1, b, n / b)]);
        xs = StructuredLowering.Transpose(context, xs, "blocks_first", 1, 0, 2);
        string z = Initializers.Node(context, "MatMul", "stage1", [xs, Initializers.Float(context, "w1_t", l.W1.transpose(1, 2))]);
        z = StructuredLowering.Transpose(context, z, "stage1_tokens_first", 1, 0, 2);
        z = Initializers.Node(context, "Reshape", "concatenated", [z, StructuredLowering.LeadingShapeWith(context, input, l.Rank)]);
        string y = Initializers.Node(context, "MatMul", "dense_stage", [z, Initializers.Float(context, "lr_t", l.Lr.t())]);
        StructuredLowering.FinishWithBias(context, l.Bias, y, output);
    }
}

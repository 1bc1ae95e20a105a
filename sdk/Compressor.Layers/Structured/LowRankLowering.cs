using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Structured;

/// <summary>Lowers <see cref="LowRankLinear"/> to two MatMuls, x·lr1ᵀ [N, r] → ·lr2ᵀ [r, M] (+ bias), or to one
/// dense MatMul when <see cref="PreMergeDecision.Merged"/> says so; for <see cref="ExportTarget.Speed"/>, the same
/// products on integer kernels (<see cref="StructuredIntegerLowering"/>).</summary>
internal static class LowRankLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, LowRankLinear l, string input, string output)
    {
        bool merged = PreMergeDecision.Merged(l, context.DeployTokens);
        if (context.Target == ExportTarget.Speed)
        {
            if (merged)
            {
                using var dense = l.DenseWeight();
                StructuredLowering.FinishWithBias(context, l.Bias, StructuredIntegerLowering.MatMul(context, input, dense, "merged"), output);
                return;
            }
            string hq = StructuredIntegerLowering.MatMul(context, input, l.Lr1, "lr1");
            StructuredLowering.FinishWithBias(context, l.Bias, StructuredIntegerLowering.MatMul(context, hq, l.Lr2, "lr2"), output);
            return;
        }
        if (merged)
        {
            StructuredLowering.PreMerged(context, l, input, output);
            return;
        }
        string h = Initializers.Node(context, "MatMul", "lr1_matmul", [input, Initializers.Float(context, "lr1_t", l.Lr1.t())]);
        string y = Initializers.Node(context, "MatMul", "lr2_matmul", [h, Initializers.Float(context, "lr2_t", l.Lr2.t())]);
        StructuredLowering.FinishWithBias(context, l.Bias, y, output);
    }
}

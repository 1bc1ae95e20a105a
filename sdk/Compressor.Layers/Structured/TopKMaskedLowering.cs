using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>Lowers <see cref="TopKMaskedLinear"/> (WINA/TEAL activation sparsity) to: score = |x| (· column scale)
/// → TopK(k, last axis) → the k-th value (Slice) → mask = score ≥ k-th (Less → Where zeroes the rest) → MatMul with
/// Wᵀ (+ bias).</summary>
internal static class TopKMaskedLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, TopKMaskedLinear l, string input, string output)
    {
        string masked = input;
        if (l.Keep < l.InFeatures)
        {
            string score = Initializers.Node(context, "Abs", "abs_input", [input]);
            if (l.ColumnScale is { } scale)
                score = Initializers.Node(context, "Mul", "wina_score", [score, Initializers.Float(context, "column_scale", scale)]);
            string values = context.UniqueName("topk_values"), indices = context.UniqueName("topk_indices");
            context.AddNode("TopK", [score, Initializers.Int64Vector(context, "k", l.Keep)], [values, indices],
                new Dictionary<string, object> { ["axis"] = -1L, ["largest"] = 1L, ["sorted"] = 1L });
            string kth = Initializers.Node(context, "Slice", "kth_score",
                [values, Initializers.Int64Vector(context, "kth_start", l.Keep - 1), Initializers.Int64Vector(context, "kth_end", l.Keep), Initializers.Int64Vector(context, "kth_axis", -1)]);
            string dropped = Initializers.Node(context, "Less", "dropped", [score, kth]);
            masked = Initializers.Node(context, "Where", "masked_input", [dropped, Initializers.Float(context, "zero", zeros(1)), input]);
        }
        string y = Initializers.Node(context, "MatMul", "matmul", [masked, Initializers.Float(context, "weight_t", l.Weight.t())]);
        StructuredLowering.FinishWithBias(context, l.Bias, y, output);
    }
}

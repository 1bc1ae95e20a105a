using Compressor.Sdk.Layers.Structured;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="TopKMaskedLinear"/> (WINA/TEAL activation sparsity) to: score = |x| (· column scale)
/// → TopK(k, last axis) → the k-th value (Slice) → mask = score ≥ k-th (Less → Where zeroes the rest) → MatMul with
/// Wᵀ (+ bias).</summary>
public sealed class TopKMaskedLinearLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => TopKMaskedLinear.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var l = layer as TopKMaskedLinear ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(TopKMaskedLinear)}, got {layer.GetType().Name}");
        string masked = input;
        if (l.Keep < l.InFeatures)
        {
            string score = StructuredLowering.Node(context, "Abs", "abs_input", [input]);
            if (l.ColumnScale is { } scale)
                score = StructuredLowering.Node(context, "Mul", "wina_score", [score, StructuredLowering.Float(context, "column_scale", scale)]);
            string values = context.UniqueName("topk_values"), indices = context.UniqueName("topk_indices");
            context.AddNode("TopK", [score, StructuredLowering.Int64(context, "k", l.Keep)], [values, indices],
                new Dictionary<string, object> { ["axis"] = -1L, ["largest"] = 1L, ["sorted"] = 1L });
            string kth = StructuredLowering.Node(context, "Slice", "kth_score",
                [values, StructuredLowering.Int64(context, "kth_start", l.Keep - 1), StructuredLowering.Int64(context, "kth_end", l.Keep), StructuredLowering.Int64(context, "kth_axis", -1)]);
            string dropped = StructuredLowering.Node(context, "Less", "dropped", [score, kth]);
            masked = StructuredLowering.Node(context, "Where", "masked_input", [dropped, StructuredLowering.Float(context, "zero", zeros(1)), input]);
        }
        string y = StructuredLowering.Node(context, "MatMul", "matmul", [masked, StructuredLowering.Float(context, "weight_t", l.Weight.t())]);
        StructuredLowering.FinishWithBias(context, l.Bias, y, output);
    }
}

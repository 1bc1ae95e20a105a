using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>What the lowerings of <see cref="StructuredLinear"/> layers and <see cref="TopKMaskedLinear"/> share:
/// float32 and int64 initializers, the bias Add, the pre-merged dense MatMul, and the Shape → Slice → Concat
/// arithmetic that restores the input's leading dimensions after a block stage worked on [T, …] views.</summary>
internal static class StructuredLowering
{
    /// <summary>A Transpose of <paramref name="input"/> by <paramref name="perm"/>.</summary>
    public static string Transpose(ILoweringContext context, string input, string hint, params long[] perm) =>
        Initializers.Node(context, "Transpose", hint, [input], new Dictionary<string, object> { ["perm"] = perm });

    /// <summary>The shape [..., <paramref name="last"/>] whose leading dimensions are those of <paramref name="input"/>.</summary>
    public static string LeadingShapeWith(ILoweringContext context, string input, long last)
    {
        string shape = Initializers.Node(context, "Shape", "input_shape", [input]);
        string leading = Initializers.Node(context, "Slice", "leading_shape", [shape, Initializers.Int64Vector(context, "slice_start", 0), Initializers.Int64Vector(context, "slice_end", -1), Initializers.Int64Vector(context, "slice_axis", 0)]);
        return Initializers.Node(context, "Concat", "output_shape", [leading, Initializers.Int64Vector(context, "last_dim", last)], new Dictionary<string, object> { ["axis"] = 0L });
    }

    /// <summary>Writes <paramref name="product"/> + bias (or an Identity when there is no bias) into <paramref name="output"/>.</summary>
    public static void FinishWithBias(ILoweringContext context, Tensor? bias, string product, string output)
    {
        if (bias is null)
        {
            context.AddNode("Identity", [product], [output]);
            return;
        }
        context.AddNode("Add", [product, Initializers.Float(context, "bias", bias)], [output]);
    }

    /// <summary>The pre-merged form: one MatMul with the materialised Wᵀ [N, M] (+ bias).</summary>
    public static void PreMerged(ILoweringContext context, StructuredLinear layer, string input, string output)
    {
        using var w = layer.DenseWeight();
        string product = Initializers.Node(context, "MatMul", "merged_matmul", [input, Initializers.Float(context, "merged_weight_t", w.t())]);
        FinishWithBias(context, layer.Bias, product, output);
    }
}

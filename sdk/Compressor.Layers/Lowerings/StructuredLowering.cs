using Compressor.Sdk.Layers.Structured;
using static TorchSharp.torch;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>What the lowerings of <see cref="StructuredLinear"/> layers and <see cref="TopKMaskedLinear"/> share:
/// float32 and int64 initializers, the bias Add, the pre-merged dense MatMul, and the Shape → Slice → Concat
/// arithmetic that restores the input's leading dimensions after a block stage worked on [T, …] views.</summary>
internal static class StructuredLowering
{
    /// <summary>Adds <paramref name="value"/> as a float32 initializer; returns its name.</summary>
    public static string Float(ILoweringContext context, string hint, Tensor value)
    {
        using var scope = NewDisposeScope();
        var t = value.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, t.shape, t.bytes.ToArray()));
        return name;
    }

    /// <summary>Adds an int64 vector initializer (shapes, axes, k); returns its name.</summary>
    public static string Int64(ILoweringContext context, string hint, params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Int64, [values.Length], bytes));
        return name;
    }

    /// <summary>Adds one node with a fresh output named after <paramref name="hint"/>; returns the output.</summary>
    public static string Node(ILoweringContext context, string opType, string hint, IReadOnlyList<string> inputs, IReadOnlyDictionary<string, object>? attributes = null)
    {
        string output = context.UniqueName(hint);
        context.AddNode(opType, inputs, [output], attributes);
        return output;
    }

    /// <summary>A Transpose of <paramref name="input"/> by <paramref name="perm"/>.</summary>
    public static string Transpose(ILoweringContext context, string input, string hint, params long[] perm) =>
        Node(context, "Transpose", hint, [input], new Dictionary<string, object> { ["perm"] = perm });

    /// <summary>The shape [..., <paramref name="last"/>] whose leading dimensions are those of <paramref name="input"/>.</summary>
    public static string LeadingShapeWith(ILoweringContext context, string input, long last)
    {
        string shape = Node(context, "Shape", "input_shape", [input]);
        string leading = Node(context, "Slice", "leading_shape", [shape, Int64(context, "slice_start", 0), Int64(context, "slice_end", -1), Int64(context, "slice_axis", 0)]);
        return Node(context, "Concat", "output_shape", [leading, Int64(context, "last_dim", last)], new Dictionary<string, object> { ["axis"] = 0L });
    }

    /// <summary>Writes <paramref name="product"/> + bias (or an Identity when there is no bias) into <paramref name="output"/>.</summary>
    public static void FinishWithBias(ILoweringContext context, Tensor? bias, string product, string output)
    {
        if (bias is null)
        {
            context.AddNode("Identity", [product], [output]);
            return;
        }
        context.AddNode("Add", [product, Float(context, "bias", bias)], [output]);
    }

    /// <summary>The pre-merged form: one MatMul with the materialised Wᵀ [N, M] (+ bias).</summary>
    public static void PreMerged(ILoweringContext context, StructuredLinear layer, string input, string output)
    {
        using var w = layer.DenseWeight();
        string product = Node(context, "MatMul", "merged_matmul", [input, Float(context, "merged_weight_t", w.t())]);
        FinishWithBias(context, layer.Bias, product, output);
    }
}

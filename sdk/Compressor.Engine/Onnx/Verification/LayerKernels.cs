using Onnx;

namespace Compressor.Engine.Onnx.Verification;

/// <summary>Reads back, per compressed layer, the kernels ONNX Runtime chose: every node of the optimised graph is
/// attributed to the layer whose name prefixes one of its output values (lowerings name every value
/// <c>layer.hint</c>), or, failing that, one of its inputs (a fused node keeps the layer's weight initializer as an
/// input); the longest matching layer name wins.</summary>
public static class LayerKernels
{
    /// <summary>Operators that compute a product on int8/uint8 operands.</summary>
    public static readonly IReadOnlySet<string> IntegerKernels = new HashSet<string>(StringComparer.Ordinal)
    {
        "com.microsoft.MatMulIntegerToFloat", "com.microsoft.DynamicQuantizeMatMul", "QLinearMatMul", "com.microsoft.QLinearMatMul",
        "MatMulInteger", "QLinearConv", "com.microsoft.QLinearConv", "ConvInteger", "com.microsoft.QGemm",
    };

    /// <summary>Operators that compute a product in float: a layer that keeps one fell back.</summary>
    public static readonly IReadOnlySet<string> FloatKernels = new HashSet<string>(StringComparer.Ordinal)
    {
        "MatMul", "Gemm", "Conv", "com.microsoft.FusedMatMul", "com.microsoft.FusedConv", "com.microsoft.FusedGemm",
    };

    /// <summary>The kernels of each layer of <paramref name="layers"/> (name, kind) in <paramref name="optimized"/>, in
    /// the order of <paramref name="layers"/>.</summary>
    public static IReadOnlyList<LayerKernel> Attribute(ModelProto optimized, IReadOnlyList<(string Name, string Kind)> layers)
    {
        var byLayer = layers.ToDictionary(l => l.Name, _ => new SortedDictionary<string, int>(StringComparer.Ordinal), StringComparer.Ordinal);
        var names = layers.Select(l => l.Name).OrderByDescending(n => n.Length).ToList();
        string? Owner(string value) => names.FirstOrDefault(n => value.StartsWith(n + ".", StringComparison.Ordinal) || value.StartsWith(n + "/", StringComparison.Ordinal));
        foreach (var node in optimized.Graph.Node)
        {
            string? owner = node.Output.Select(Owner).FirstOrDefault(o => o is not null) ?? node.Input.Where(i => i.Length > 0).Select(Owner).FirstOrDefault(o => o is not null);
            if (owner is null) continue;
            string key = (node.Domain is "" or "ai.onnx" ? "" : node.Domain + ".") + node.OpType;
            var counts = byLayer[owner];
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return layers.Select(l =>
        {
            var k = byLayer[l.Name];
            string form = k.Keys.Any(FloatKernels.Contains) ? LayerKernel.Float
                : k.Keys.Any(IntegerKernels.Contains) ? LayerKernel.Integer
                : k.ContainsKey("com.microsoft.MatMulNBits") ? LayerKernel.WeightOnly
                : LayerKernel.Float;
            return new LayerKernel(l.Name, l.Kind, k, form);
        }).ToList();
    }
}

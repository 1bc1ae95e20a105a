using Compressor.Layers.Integer;
using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>The <see cref="ExportTarget.Speed"/> form of a low-rank layer (and of any pre-merged structured layer):
/// each float factor is quantized at export to int8 per output channel (symmetric round to nearest, s = max|w|/127)
/// and applied as DynamicQuantizeLinear(x) → MatMulInteger → Cast → Mul(x_scale·w_scales) — ONNX Runtime's
/// <c>DynamicQuantizeMatMul</c> — so that the factorisation's FLOP saving and int8 arithmetic multiply. Unlike the
/// integer layers, the TorchSharp layer keeps float factors: the export differs from it by int8 rounding of weights and
/// activations, which the verification gate measures (and holds to its integer floor).</summary>
internal static class StructuredIntegerLowering
{
    /// <summary>x·Wᵀ for W [out, in] on integer kernels; returns the output value's name.</summary>
    public static string MatMul(ILoweringContext context, string x, Tensor weight, string hint)
    {
        context.RequireOpset("", 21);
        using var scope = NewDisposeScope();
        var (codes, scales) = IntegerLayer.QuantizeWeight(weight.detach().cpu());
        string w = IntegerLowering.Int8(context, hint + ".qweight_t", codes.t().contiguous(), [weight.shape[1], weight.shape[0]]);
        string ws = Initializers.Float(context, hint + ".scales", scales);
        string q = context.UniqueName(hint + "/q"), s = context.UniqueName(hint + "/scale"), z = context.UniqueName(hint + "/zero_point");
        context.AddNode("DynamicQuantizeLinear", [x], [q, s, z]);
        string acc = Initializers.Node(context, "MatMulInteger", hint + "/matmul_integer", [q, w, z]);
        string f = Initializers.Node(context, "Cast", hint + "/matmul_float", [acc], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Float });
        string scale = Initializers.Node(context, "Mul", hint + "/output_scale", [s, ws]);
        return Initializers.Node(context, "Mul", hint + "/matmul", [f, scale]);
    }
}

using Compressor.Plugins.StatsQ.Compressed;
using Compressor.Sdk.Onnx;
using Compressor.Sdk.Onnx.Lowerings;
using Compressor.Sdk.Quantization;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Onnx;

/// <summary>Node patterns shared by the StatsQ lowerings, written through an <see cref="ILoweringContext"/>: coded
/// weights (DequantizeLinear of the packed codes with the per-row steps), coded linear maps with the zero-less half
/// step folded after the MatMul, frozen activation quantizers (shifts around the SDK's <see cref="ActivationQdq"/>),
/// and the shape plumbing of attention.</summary>
internal sealed class LoweringGraph(ILoweringContext c)
{
    /// <summary>The context.</summary>
    public ILoweringContext Context => c;

    /// <summary>Adds one node with a fresh output named after <paramref name="hint"/>.</summary>
    public string Node(string op, string hint, IReadOnlyList<string> inputs, Dictionary<string, object>? attributes = null)
    {
        string output = c.UniqueName(hint);
        c.AddNode(op, inputs, [output], attributes);
        return output;
    }

    /// <summary>A float32 tensor initializer.</summary>
    public string Float(string hint, Tensor t)
    {
        using var f = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string name = c.UniqueName(hint);
        c.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, f.shape, f.bytes.ToArray()));
        return name;
    }

    /// <summary>An int64 vector (shapes, axes, indices; not counted with the layer's tensors).</summary>
    public string Int64(string hint, params long[] values) => ActivationQdq.Int64Vector(c, hint, values);

    /// <summary>An int64 scalar (a Gather index that drops its axis).</summary>
    public string Int64Scalar(string hint, long value)
    {
        string name = c.UniqueName(hint);
        c.AddInitializer(new OnnxInitializer(name, OnnxDataType.Int64, [], BitConverter.GetBytes(value)));
        return name;
    }

    /// <summary>Reshape to a constant shape.</summary>
    public string Reshape(string x, string hint, params long[] shape) => Node("Reshape", hint, [x, Int64(hint + "_shape", shape)]);

    /// <summary>Transpose with a permutation.</summary>
    public string Transpose(string x, string hint, params long[] perm) => Node("Transpose", hint, [x], new() { ["perm"] = perm });

    /// <summary>Multiplies by a float32 scalar.</summary>
    public string Scale(string x, string hint, float value) => Node("Mul", hint, [x, ActivationQdq.FloatScalar(c, hint + ".factor", value)]);

    /// <summary>A frozen activation quantizer on <paramref name="x"/>.</summary>
    public string Quantize(string x, FrozenActivationQuantizer q, string hint)
    {
        if (q.ShiftBefore is { } before) x = Node("Add", hint + "/shift_before", [x, Float(hint + ".shift_before", before)]);
        x = ActivationQdq.Emit(c, x, q.Scale, q.Qn, q.Qp, hint);
        if (q.ShiftAfter is { } after) x = Node("Add", hint + "/shift_after", [x, Float(hint + ".shift_after", after)]);
        return x;
    }

    /// <summary>A coded linear map on <paramref name="x"/> (its input quantizer first, when it has one):
    /// MatMul(x, DQ(codesᵀ, step)) [+ ReduceSum(x)·(step·0.5)] [+ bias].</summary>
    public string Linear(string x, CodedLinear l, string hint)
    {
        if (l.Input is { } q) x = Quantize(x, q, hint + ".input");
        string step = Float(hint + ".step", l.Step);
        string w = Weight(l, step, hint);
        string y = Node("MatMul", hint + "/matmul", [x, w]);
        if (l.ZeroLess)
        {
            string sum = Node("ReduceSum", hint + "/row_sum", [x, Int64(hint + ".sum_axes", -1)], new() { ["keepdims"] = 1L });
            string half = Scale(step, hint + "/half_step", 0.5f);
            y = Node("Add", hint + "/half", [y, Node("Mul", hint + "/half_term", [sum, half])]);
        }
        if (l.Bias is { } b) y = Node("Add", hint + "/bias_add", [y, Float(hint + ".bias", b)]);
        return y;
    }

    /// <summary>DQ of the codes as Wᵀ [in, out] with the per-output steps (per axis 1). 2-bit codes whose transposed
    /// rows do not start on byte boundaries keep the stored [out, in] packing (DQ per axis 0) and a Transpose, as the
    /// SDK's quantized linear does (ORT 1.31's int2 MatMulNBits fusion misreads unaligned rows).</summary>
    private string Weight(CodedLinear l, string step, string hint)
    {
        int bits = CodedLinear.ContainerBits(l.Bits);
        int type = OnnxDataType.Integer(bits, signed: true);
        c.RequireOpset("", OnnxDataType.MinimumOpset(type));
        bool aligned = bits != 2 || l.OutFeatures * bits % 8 == 0;
        byte[] bytes;
        long[] dims;
        if (aligned)
        {
            using var codes = l.Codes();
            using var t = codes.t().contiguous();
            using var packed = IntPacking.Pack(t, bits, signed: true);
            bytes = packed.bytes.ToArray();
            dims = [l.InFeatures, l.OutFeatures];
        }
        else
        {
            bytes = l.PackedCodes.detach().cpu().bytes.ToArray();
            dims = [l.OutFeatures, l.InFeatures];
        }
        string codesName = c.UniqueName(hint + (aligned ? ".qweight_t" : ".qweight"));
        c.AddInitializer(new OnnxInitializer(codesName, type, dims, bytes));
        string w = Node("DequantizeLinear", hint + "/weight", [codesName, step], new() { ["axis"] = aligned ? 1L : 0L });
        return aligned ? w : Transpose(w, hint + "/weight_t", 1, 0);
    }
}

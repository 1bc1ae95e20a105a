using Compressor.Sdk.Layers;
using Compressor.Layers.Lowering;
using Compressor.Layers.Packing;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>Node patterns shared by the StatsQ lowerings, written through an <see cref="ILoweringContext"/>: coded
/// weights (DequantizeLinear of the packed codes with the per-row steps), coded linear maps with the zero-less half
/// step folded after the MatMul, frozen activation quantizers (shifts around the SDK's <see cref="ActivationQdq"/>),
/// and the shape plumbing of attention.</summary>
internal sealed class LoweringGraph(ILoweringContext c)
{
    private readonly Dictionary<int, string> _scalars = [];

    /// <summary>A float32 scalar constant, written once per layer.</summary>
    public string Scalar(float value)
    {
        int key = BitConverter.SingleToInt32Bits(value);
        if (!_scalars.TryGetValue(key, out var name)) _scalars[key] = name = Initializers.FloatScalar(c, "const", value);
        return name;
    }

    /// <summary>The context.</summary>
    public ILoweringContext Context => c;

    /// <summary>Adds one node with a fresh output named after <paramref name="hint"/>.</summary>
    public string Node(string op, string hint, IReadOnlyList<string> inputs, Dictionary<string, object>? attributes = null) =>
        Initializers.Node(c, op, hint, inputs, attributes);

    /// <summary>A float32 tensor initializer.</summary>
    public string Float(string hint, Tensor t) => Initializers.Float(c, hint, t);

    /// <summary>An int64 vector (shapes, axes, indices; not counted with the layer's tensors).</summary>
    public string Int64(string hint, params long[] values) => Initializers.Int64Vector(c, hint, values);

    /// <summary>An int64 scalar (a Gather index that drops its axis).</summary>
    public string Int64Scalar(string hint, long value) => Initializers.Int64Scalar(c, hint, value);

    /// <summary>Reshape to a constant shape.</summary>
    public string Reshape(string x, string hint, params long[] shape) => Node("Reshape", hint, [x, Int64(hint + "_shape", shape)]);

    /// <summary>Transpose with a permutation.</summary>
    public string Transpose(string x, string hint, params long[] perm) => Node("Transpose", hint, [x], new() { ["perm"] = perm });

    /// <summary>Multiplies by a float32 scalar.</summary>
    public string Scale(string x, string hint, float value) => Node("Mul", hint, [x, Scalar(value)]);

    /// <summary>A frozen activation quantizer on <paramref name="x"/> (of rank <paramref name="rank"/> when known).</summary>
    public string Quantize(string x, FrozenActivationQuantizer q, string hint, int? rank)
    {
        if (q.ShiftBefore is { } before) x = Node("Add", hint + "/shift_before", [x, Float(hint + ".shift_before", before)]);
        x = ActivationQdq.Emit(c, x, q.Scale, q.Qn, q.Qp, hint, rank, Scalar);
        if (q.ShiftAfter is { } after) x = Node("Add", hint + "/shift_after", [x, Float(hint + ".shift_after", after)]);
        return x;
    }

    /// <summary>A coded linear map on <paramref name="x"/> (its input quantizer first, when it has one):
    /// MatMul(x, DQ(codesᵀ, step)) [+ ReduceSum(x)·(step·0.5)] [+ bias]. Only a layer without an input quantizer
    /// (the weight-only path) gets the DQ → MatMul form ORT fuses into MatMulNBits at ORT_ENABLE_ALL: that kernel
    /// quantizes its input internally and accumulates less exactly, and in a network with low-bit activation
    /// quantizers downstream every such difference that crosses a rounding threshold becomes a whole quantization
    /// step (measured on a W3A3/W4A4 ViT: 16–19 dB output SQNR against TorchSharp at ORT_ENABLE_ALL, against > 60 dB
    /// unfused). Such layers keep the stored [out, in] packing, DQ along axis 0 and a Transpose, which ORT does not
    /// fuse; the file holds the same packed codes either way.</summary>
    public string Linear(string x, CodedLinear l, string hint, int? rank)
    {
        if (l.Input is { } q) x = Quantize(x, q, hint + ".input", rank);
        string step = Float(hint + ".step", l.Step);
        string w = Weight(l, step, hint, fusable: l.Input is null && rank is null);
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

    /// <summary>DQ of the codes as Wᵀ [in, out] with the per-output steps (per axis 1). Unfusable layers, and 2-bit
    /// codes whose transposed rows do not start on byte boundaries, keep the stored [out, in] packing (DQ per axis 0) and a Transpose, as the
    /// SDK's quantized linear does (ORT 1.31's int2 MatMulNBits fusion misreads unaligned rows).</summary>
    private string Weight(CodedLinear l, string step, string hint, bool fusable)
    {
        int bits = CodedLinear.ContainerBits(l.Bits);
        int type = OnnxDataType.Integer(bits, signed: true);
        c.RequireOpset("", OnnxDataType.MinimumOpset(type));
        bool aligned = fusable && (bits != 2 || l.OutFeatures * bits % 8 == 0);
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

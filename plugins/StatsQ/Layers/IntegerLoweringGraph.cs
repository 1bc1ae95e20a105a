using Compressor.Layers.Integer;
using Compressor.Layers.Lowering;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The <see cref="ExportTarget.Speed"/> forms of the StatsQ lowerings (plugins/StatsQ/README.md, "Integer
/// kernels"): products whose operands the QAT model quantized run as ONNX MatMulInteger / ConvInteger on the very
/// integer codes the model computed, and the scales are applied once to the int32 result.
/// <list type="bullet">
/// <item>Activation codes: (x + shift_before) rounded by one QuantizeLinear (per tensor; per token position as a
/// per-axis QuantizeLinear over the token axis; any other scale divided first in its broadcast shape, then rounded with
/// scale 1), then clipped to the quantizer's [Qn, Qp] on the integer codes (the size form's clamp of x to
/// [s·Qn, s·Qp] gives the same codes): uint8 with z = 128 for signed codes, z = 0 for unsigned ones (ONNX Runtime's
/// x86 integer kernels take uint8 left operands), int8 with z = 0 for a right operand. The codes are those of the fake
/// quantizer (the same division, rounded half to even).</item>
/// <item>Weights: the stored codes k in their container type (int2/int4/int8; Cast to int8 at session load by ORT's
/// constant folding, so the file keeps the packed codes), as k for LSQ and as 2k + 1 at half the step for StatsQ's
/// zero-less grid a·k + a/2 = (a/2)(2k + 1): exact in int8 up to 7 bits; 8-bit zero-less codes (±255) refuse the
/// target.</item>
/// <item>Linear: MatMulInteger(x codes, Wᵀ int8, z) → Cast → ×s (per tensor or per token) → ×step → + (b + shift_after·Wᵀ),
/// the last a constant (the quantizer's shift after the codes is linear). With one input scale per tensor or per token
/// position (every StatsQ linear of a ViT), the fused <c>com.microsoft.MatMulIntegerToFloat</c> instead
/// (<see cref="FusedLinear"/>).</item>
/// <item>Attention: q·kᵀ and attn·v in integer on the per-token (rows) and per-token/per-channel (columns) scaled
/// codes: q·kᵀ as MatMulIntegerToFloat with k's token scales as its column scales, then × s_rows/√d
/// (<see cref="ColumnScaledProduct"/>); attn·v as MatMulInteger rescaled by one Mul by s_rows ⊗ s_columns
/// (<see cref="Product"/>).</item>
/// </list></summary>
internal sealed class IntegerLoweringGraph(LoweringGraph g)
{
    private ILoweringContext C => g.Context;

    /// <summary>Integer codes of <paramref name="x"/> under <paramref name="q"/> (without its shift after): returns the
    /// codes' name and the scale's initializer name (its broadcast shape). <paramref name="unsignedOperand"/>: uint8
    /// codes (left operand), else int8 (right operand; signed quantizers only).</summary>
    public (string Codes, string Scale) Codes(string x, FrozenActivationQuantizer q, string hint, bool unsignedOperand) =>
        (CodesOf(x, q, hint, unsignedOperand), BroadcastScale(q, hint));

    private readonly Dictionary<FrozenActivationQuantizer, string> _scales = [];

    /// <summary>The one initializer of <paramref name="q"/>'s scale, written once per quantizer: a scalar per tensor,
    /// [N] per token position, else its broadcast shape. Every other form of it (a product's row or column scales) is
    /// a Reshape/Unsqueeze node on this one, which ORT folds at session load, so the file holds each scale once.</summary>
    public string ScaleOf(FrozenActivationQuantizer q, string hint)
    {
        if (_scales.TryGetValue(q, out var name)) return name;
        using var scope = NewDisposeScope();
        var t = q.Scale.numel() == 1 ? q.Scale.reshape([]) : PerToken(q) ? q.Scale.reshape(q.ScaleShape[0]) : q.Scale.alias();
        return _scales[q] = g.Float(hint + ".scale", t);
    }

    /// <summary><paramref name="q"/>'s scale in the broadcast shape of what it quantizes ([N, 1] per token).</summary>
    public string BroadcastScale(FrozenActivationQuantizer q, string hint) =>
        PerToken(q) ? g.Node("Unsqueeze", hint + "/scale_rows", [ScaleOf(q, hint), g.Int64(hint + ".rows_axes", -1)]) : ScaleOf(q, hint);

    /// <summary>Integer codes of <paramref name="x"/> under <paramref name="q"/> (without its shift after), without the
    /// scale's initializer (for callers that fold the scale into another constant).</summary>
    public string CodesOf(string x, FrozenActivationQuantizer q, string hint, bool unsignedOperand)
    {
        C.RequireOpset("", 21);
        if (q.ShiftBefore is { } before) x = g.Node("Add", hint + "/shift_before", [x, g.Float(hint + ".shift_before", before)]);
        int zero = unsignedOperand && q.Signed ? 128 : 0;
        int type = unsignedOperand ? OnnxDataType.UInt8 : OnnxDataType.Int8;
        if (!unsignedOperand && !q.Signed) throw new InvalidOperationException("an unsigned quantizer's codes go to the left operand");
        // round(x/s) by QuantizeLinear, then the quantizer's grid [Qn, Qp] by an integer Clip on the codes: the same
        // codes as clamping x to [s·Qn, s·Qp] and dividing, in one float pass instead of three.
        string codes = QuantizeLinear(x, q, hint, type, zero);
        int lo = q.Qn + zero, hi = q.Qp + zero;
        int min = unsignedOperand ? 0 : -128, max = unsignedOperand ? 255 : 127;
        if (lo > min || hi < max)
        {
            string Bound(string name, int value)
            {
                string n = C.UniqueName(hint + name);
                C.AddInitializer(new OnnxInitializer(n, type, [], [unchecked((byte)(sbyte)value)]));
                return n;
            }
            codes = g.Node("Clip", hint + "/codes", [codes, Bound(".lo", Math.Max(lo, min)), Bound(".hi", Math.Min(hi, max))]);
        }
        return codes;
    }

    /// <summary>round(x / s) + z by one QuantizeLinear: per tensor with the scalar scale; one scale per token position
    /// ([N, 1], the axis before the last) per axis −2, with one zero point per token; any other scale shape (per
    /// channel: a per-axis QuantizeLinear over the last axis would run one kernel call per value in ONNX Runtime)
    /// divides by the broadcast scale first and quantizes with scale 1. All three divide x by the same float scale and
    /// round half to even, so they give the fake quantizer's codes.</summary>
    private string QuantizeLinear(string x, FrozenActivationQuantizer q, string hint, int type, int zero)
    {
        byte z8 = unchecked((byte)(sbyte)zero);
        if (q.Scale.numel() == 1)
        {
            string z = C.UniqueName(hint + ".zero_point");
            C.AddInitializer(new OnnxInitializer(z, type, [], [z8]));
            return g.Node("QuantizeLinear", hint + "/codes_raw", [x, ScaleOf(q, hint), z]);
        }
        if (PerToken(q))
        {
            long tokens = q.ScaleShape[0];
            string z = C.UniqueName(hint + ".zero_point");
            C.AddInitializer(new OnnxInitializer(z, type, [tokens], Enumerable.Repeat(z8, (int)tokens).ToArray()));
            return g.Node("QuantizeLinear", hint + "/codes_raw", [x, ScaleOf(q, hint), z], new() { ["axis"] = -2L });
        }
        string one = C.UniqueName(hint + ".zero_point");
        C.AddInitializer(new OnnxInitializer(one, type, [], [z8]));
        return g.Node("QuantizeLinear", hint + "/codes_raw", [g.Node("Div", hint + "/normalised", [x, ScaleOf(q, hint)]), g.Scalar(1f), one]);
    }

    /// <summary>Whether <paramref name="q"/> has one scale per token position ([N, 1]).</summary>
    public static bool PerToken(FrozenActivationQuantizer q) => q.ScaleShape.Length == 2 && q.ScaleShape[1] == 1;

    /// <summary>The zero point scalar of <paramref name="q"/>'s uint8 codes (128 signed, 0 unsigned).</summary>
    public string UInt8Zero(FrozenActivationQuantizer q, string hint) => IntegerLowering.UInt8Scalar(C, hint + ".a_zero_point", q.Signed ? 128 : 0);

    /// <summary>Whether <paramref name="l"/> has an integer form: a quantized input and a grid int8 carries.</summary>
    public static bool HasIntegerForm(CodedLinear l) => l.Input is not null;

    /// <summary>The error for a grid that int8 cannot carry.</summary>
    public static CompressException NotCarried(string layer, int bits) => new(ErrorKind.InvalidOptions,
        $"--target speed: layer '{layer}' has {bits}-bit StatsQ zero-less weights (levels (2k+1)/2 up to ±{(1 << bits) - 1} half steps), which int8 cannot carry exactly; " +
        "nearest option: --target size (its exact float form), or LSQ weights at 8 bits");

    /// <summary>The int8 weight Wᵀ [in, out] (k, or 2k + 1 on the zero-less grid) computed from the stored codes in
    /// their container type; returns the int8 value's name.</summary>
    public string WeightT(CodedLinear l, string hint)
    {
        int bits = CodedLinear.ContainerBits(l.Bits);
        if (l.ZeroLess && l.Bits >= 8) throw NotCarried(C.LayerName + "/" + hint, l.Bits);
        using var codes = l.Codes();
        using var t = codes.t().contiguous();
        if (bits == 8 && !l.ZeroLess) return IntegerLowering.Int8(C, hint + ".qweight_t", t, [l.InFeatures, l.OutFeatures]);
        int type = OnnxDataType.Integer(bits, signed: true);
        C.RequireOpset("", OnnxDataType.MinimumOpset(type));
        using var packed = Compressor.Layers.Packing.IntPacking.Pack(t, bits, signed: true);
        string stored = C.UniqueName(hint + ".qweight_t");
        C.AddInitializer(new OnnxInitializer(stored, type, [l.InFeatures, l.OutFeatures], packed.bytes.ToArray()));
        if (!l.ZeroLess) return g.Node("Cast", hint + "/weight_int8", [stored], new() { ["to"] = (long)OnnxDataType.Int8 });
        string wide = g.Node("Cast", hint + "/weight_int32", [stored], new() { ["to"] = (long)OnnxDataType.Int32 });
        string odd = g.Node("Add", hint + "/weight_odd", [g.Node("Mul", hint + "/weight_twice", [wide, Int32(hint + ".two", 2)]), Int32(hint + ".one", 1)]);
        return g.Node("Cast", hint + "/weight_int8", [odd], new() { ["to"] = (long)OnnxDataType.Int8 });
    }

    private string Int32(string hint, int value)
    {
        string name = C.UniqueName(hint);
        C.AddInitializer(new OnnxInitializer(name, OnnxDataType.Int32, [], BitConverter.GetBytes(value)));
        return name;
    }

    /// <summary>A coded linear map on integer kernels (its input quantizer first); see the class.</summary>
    public string Linear(string x, CodedLinear l, string hint)
    {
        var q = l.Input ?? throw new InvalidOperationException("a coded linear without input quantizer has no integer form");
        if (Fusable(q)) return FusedLinear(x, l, q, hint);
        var (codes, scale) = Codes(x, q, hint + ".input", unsignedOperand: true);
        string w = WeightT(l, hint);
        string acc = g.Node("MatMulInteger", hint + "/matmul_integer", [codes, w, UInt8Zero(q, hint)]);
        string y = g.Node("Cast", hint + "/matmul_float", [acc], new() { ["to"] = (long)OnnxDataType.Float });
        y = g.Node("Mul", hint + "/input_scaled", [y, scale]);
        using (var step = l.ZeroLess ? l.Step.mul(0.5) : l.Step.alias())
            y = g.Node("Mul", hint + "/matmul", [y, g.Float(hint + ".step", step)]);
        using var scope = NewDisposeScope();
        Tensor? constant = l.Bias?.detach().clone();
        if (q.ShiftAfter is { } after)
        {
            using var w1 = l.DenseWeight();
            var term = after.unsqueeze(0).matmul(w1.t()).squeeze(0);
            constant = constant is null ? term : constant.add(term);
        }
        return constant is null ? y : g.Node("Add", hint + "/bias_add", [y, g.Float(hint + ".bias", constant)]);
    }

    /// <summary>Whether <paramref name="q"/>'s codes can feed the fused kernel: one scale (per tensor) or one per token
    /// position ([N, 1], quantized per axis −2).</summary>
    private static bool Fusable(FrozenActivationQuantizer q) =>
        q.Scale.numel() == 1 || PerToken(q);

    /// <summary>A coded linear whose input quantizer has one scale s per tensor or per token position: the codes
    /// (<see cref="CodesOf"/>) → <c>com.microsoft.MatMulIntegerToFloat</c>(codes, Wᵀ int8, s or 1, step per output (half
    /// of it for the zero-less grid's odd codes), z, —, b + shift_after·Wᵀ) — for token scales, × s [N, 1] and the bias
    /// after: the fused kernel's A scale is a scalar. The general form runs MatMulInteger, then Cast and three float
    /// passes over the output.</summary>
    private string FusedLinear(string x, CodedLinear l, FrozenActivationQuantizer q, string hint)
    {
        C.RequireOpset("", 21);
        C.RequireOpset("com.microsoft", 1);
        using var scope = NewDisposeScope();
        bool perTensor = q.Scale.numel() == 1;
        string codes = CodesOf(x, q, hint + ".input", unsignedOperand: true);
        string z = UInt8Zero(q, hint);
        string w = WeightT(l, hint);
        var step = (l.ZeroLess ? l.Step.mul(0.5) : l.Step.alias()).reshape(-1);
        if (step.numel() == 1) step = step.expand(l.OutFeatures).contiguous();
        Tensor? constant = l.Bias?.detach().clone();
        if (q.ShiftAfter is { } after)
        {
            var w1 = l.DenseWeight();
            var term = after.unsqueeze(0).matmul(w1.t()).squeeze(0);
            constant = constant is null ? term : constant.add(term);
        }
        string aScale = perTensor ? ScaleOf(q, hint + ".input") : g.Scalar(1f);
        var inputs = new List<string> { codes, w, aScale, g.Float(hint + ".step", step), z };
        if (constant is not null && perTensor) inputs.AddRange(["", g.Float(hint + ".bias", constant)]);
        string y = C.UniqueName(hint + "/matmul_integer_to_float");
        C.AddNode("MatMulIntegerToFloat", inputs, [y], domain: "com.microsoft");
        if (perTensor) return y;
        y = g.Node("Mul", hint + "/matmul", [y, BroadcastScale(q, hint + ".input")]);
        return constant is null ? y : g.Node("Add", hint + "/bias_add", [y, g.Float(hint + ".bias", constant)]);
    }

    /// <summary>The product of two quantized activations on integer kernels: <paramref name="left"/> [..., N, K] under
    /// <paramref name="lq"/> (scale 1 along K) and the right operand [..., K, M] given as its codes
    /// <paramref name="rightCodes"/> under <paramref name="rq"/>, whose scale reshaped to
    /// <paramref name="columnShape"/> ([..., 1, M]) is constant along K, times <paramref name="factor"/>:
    /// MatMulInteger → Cast → one Mul by (s_rows·factor) ⊗ s_columns, a node on the quantizers' own scales that ORT
    /// folds into one constant at session load: one float pass over the product instead of three.</summary>
    public string Product(string left, FrozenActivationQuantizer lq, string rightCodes, FrozenActivationQuantizer rq, long[] columnShape, double factor, string hint)
    {
        string codes = CodesOf(left, lq, hint + ".left", unsignedOperand: true);
        string acc = g.Node("MatMulInteger", hint + "/matmul_integer", [codes, rightCodes, UInt8Zero(lq, hint)]);
        string y = g.Node("Cast", hint + "/matmul_float", [acc], new() { ["to"] = (long)OnnxDataType.Float });
        string rows = BroadcastScale(lq, hint + ".left");
        if (factor != 1) rows = g.Node("Mul", hint + "/row_scale", [rows, g.Scalar((float)factor)]);
        string columns = g.Reshape(ScaleOf(rq, hint + ".right"), hint + "/column_scale", columnShape);
        return g.Node("Mul", hint + "/product", [y, g.Node("Mul", hint + "/scale", [rows, columns])]);
    }

    /// <summary>The product of two quantized activations whose right operand's scale is one number or one per column
    /// (<paramref name="rq"/> per tensor or per token of the right operand's columns, as k in q·kᵀ): the fused
    /// <c>com.microsoft.MatMulIntegerToFloat</c>(left codes, right codes, 1, s_columns, z) scales the columns in the
    /// kernel, and one Mul by s_rows·<paramref name="factor"/> follows — no Cast pass over the int32 product.</summary>
    public string ColumnScaledProduct(string left, FrozenActivationQuantizer lq, string rightCodes, FrozenActivationQuantizer rq, double factor, string hint)
    {
        C.RequireOpset("com.microsoft", 1);
        string codes = CodesOf(left, lq, hint + ".left", unsignedOperand: true);
        string y = C.UniqueName(hint + "/matmul_integer_to_float");
        C.AddNode("MatMulIntegerToFloat", [codes, rightCodes, g.Scalar(1f), ScaleOf(rq, hint + ".right"), UInt8Zero(lq, hint)], [y], domain: "com.microsoft");
        string rows = BroadcastScale(lq, hint + ".left");
        if (factor != 1) rows = g.Node("Mul", hint + "/row_scale", [rows, g.Scalar((float)factor)]);
        return g.Node("Mul", hint + "/product", [y, rows]);
    }

    /// <summary>Whether a quantizer's scale is constant along the last axis of what it quantizes (so it factors out of
    /// a product over that axis) and it has no shifts.</summary>
    public static bool FactorsOutOfLastAxis(FrozenActivationQuantizer q) => q.ShiftFeatures == 0 && (q.ScaleShape.Length == 0 || q.ScaleShape[^1] == 1);
}

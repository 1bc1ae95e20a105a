using Compressor.Layers.Geometry;
using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Integer;

/// <summary>Lowers an <see cref="IntegerLayer"/> onto the operators ONNX Runtime 1.31 runs as integer kernels on x86
/// CPUs: uint8 activations (its QDQ fusions refuse int8 activations off ARM) and int8 weights (U8S8, what MLAS's
/// VNNI kernels take). The file holds the int8 codes and float32 scales, nothing dequantized.
/// <list type="bullet">
/// <item><b>Linear, static</b>: QuantizeLinear(x, s, z) → <c>com.microsoft.MatMulIntegerToFloat</c>(x_q, Wᵀ int8
/// [columns, rows], s, per-channel scales, z, —, bias): the kernel ORT's fusions produce, written directly. Measured
/// on ORT 1.31.1: the standard QDQ form (DQ(x_q), DQ(Wᵀ) → MatMul) fuses into it for 3-D inputs but becomes a float
/// Gemm for 2-D ones (MatMul + Add are merged first: an MLP, MiniLM's pooler), and QuantizeLinear → MatMulInteger →
/// Cast → Mul is not fused at all (three passes over the output).</item>
/// <item><b>Linear, dynamic per tensor</b>: DynamicQuantizeLinear(x) → MatMulInteger(x_q, Wᵀ, x_zp) → Cast →
/// Mul(x_scale·w_scales) (→ Add bias): ORT's <c>quantize_dynamic</c> pattern, fused into
/// <c>com.microsoft.DynamicQuantizeMatMul</c>.</item>
/// <item><b>Linear, dynamic per token</b>: s = max(ReduceMax(|x|, last axis)/127, 1e−30); QuantizeLinear(x/s, 1, 128)
/// → MatMulInteger(·, Wᵀ, 128) → Cast → Mul(s) → Mul(w_scales) (→ Add bias).</item>
/// <item><b>Conv2d</b>: QuantizeLinear(x, s, z) (static) or DynamicQuantizeLinear(x) → ConvInteger(x_q, W int8, x_zp)
/// → Cast → Mul(x_scale·w_scales as [1, C, 1, 1]) (→ Add bias). ORT fuses a QDQ Conv into QLinearConv only when its
/// output is quantized too, which this layer's float output is not.</item>
/// <item><b>Conv2d with a quantized output</b> (<see cref="IntegerFormat.QuantizedOutput"/>): QuantizeLinear(x, s, z) →
/// <c>QLinearConv</c>(x_q, W int8 per channel, int32 bias, s_out, z_out) → DequantizeLinear: ORT's fast int8
/// convolution (<c>ConvInteger</c> measured 0.3–0.4× FP32 on ResNet18 here).</item>
/// </list></summary>
public static class IntegerLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, IntegerLayer layer, string input, string output)
    {
        context.RequireOpset("", 21);   // ReduceMax's axes input (18) and QuantizeLinear as the rest of the SDK writes it
        using var scope = NewDisposeScope();
        if (layer.Geometry is LinearGeometry && layer.Format.Activations == ActivationQuantization.Static)
        {
            StaticLinear(context, layer, input, output);
            return;
        }
        if (layer.Geometry is Conv2dGeometry quantizedConv && layer.Format.QuantizedOutput)
        {
            QLinearConv(context, layer, quantizedConv, input, output);
            return;
        }
        string y = layer.Geometry switch
        {
            LinearGeometry => Linear(context, layer, input),
            Conv2dGeometry conv => Conv(context, layer, conv, input),
            _ => throw new ArgumentException($"{context.LayerName}: integer layers are linear or conv2d"),
        };
        if (layer.Bias is { } bias)
        {
            using var b = layer.Geometry is Conv2dGeometry ? bias.reshape(1, -1, 1, 1) : bias.alias();
            context.AddNode("Add", [y, Initializers.Float(context, "bias", b)], [output]);
        }
        else
        {
            context.AddNode("Identity", [y], [output]);
        }
    }

    /// <summary>Adds int8 <paramref name="codes"/> as an initializer of <paramref name="dims"/>; returns its name.</summary>
    public static string Int8(ILoweringContext context, string hint, Tensor codes, long[] dims)
    {
        using var c = codes.detach().cpu().to_type(ScalarType.Int8).contiguous();
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Int8, dims, c.bytes.ToArray()));
        return name;
    }

    /// <summary>Adds a uint8 scalar (a zero point); returns its name.</summary>
    public static string UInt8Scalar(ILoweringContext context, string hint, int value)
    {
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.UInt8, [], [(byte)value]));
        return name;
    }

    /// <summary>Static uint8 quantization of <paramref name="x"/>: QuantizeLinear(x, scale, zero point); returns the
    /// codes' name and the names of the scale and zero point.</summary>
    public static (string Codes, string Scale, string ZeroPoint) QuantizeStatic(ILoweringContext context, string x, float scale, int zeroPoint, string hint)
    {
        string s = Initializers.FloatScalar(context, hint + ".scale", scale);
        string z = UInt8Scalar(context, hint + ".zero_point", zeroPoint);
        string q = Initializers.Node(context, "QuantizeLinear", hint + "/q", [x, s, z]);
        return (q, s, z);
    }

    /// <summary>Per-token symmetric quantization of <paramref name="x"/> along its last axis, stored as uint8 with
    /// zero point 128: returns the codes, the per-row scales [..., 1] and the zero point's name.</summary>
    public static (string Codes, string RowScale, string ZeroPoint) QuantizePerToken(ILoweringContext context, string x, string hint)
    {
        string absolute = Initializers.Node(context, "Abs", hint + "/abs", [x]);
        string max = Initializers.Node(context, "ReduceMax", hint + "/absmax", [absolute, Initializers.Int64Vector(context, hint + ".axes", -1)],
            new Dictionary<string, object> { ["keepdims"] = 1L });
        string s = Initializers.Node(context, "Div", hint + "/scale_raw", [max, Initializers.FloatScalar(context, hint + ".levels", 127f)]);
        s = Initializers.Node(context, "Max", hint + "/scale", [s, Initializers.FloatScalar(context, hint + ".minimum_scale", IntegerActivation.MinimumTokenScale)]);
        string normalised = Initializers.Node(context, "Div", hint + "/normalised", [x, s]);
        string z = UInt8Scalar(context, hint + ".zero_point", 128);
        string q = Initializers.Node(context, "QuantizeLinear", hint + "/q", [normalised, Initializers.FloatScalar(context, hint + ".unit", 1f), z]);
        return (q, s, z);
    }

    /// <summary>The static linear: QuantizeLinear(x, s, z) → com.microsoft.MatMulIntegerToFloat(x_q, Wᵀ, s, w_scales,
    /// z, —, bias), the kernel ORT's own fusions produce, written directly.</summary>
    private static void StaticLinear(ILoweringContext c, IntegerLayer l, string x, string output)
    {
        using var scope = NewDisposeScope();
        using var wt = l.Codes.t().contiguous();
        string w = Int8(c, "qweight_t", wt, [l.Columns, l.Rows]);
        string scales = Initializers.Float(c, "scales", l.Scales);
        var (q, s, z) = QuantizeStatic(c, x, l.InputScale, l.InputZeroPoint, "input");
        c.RequireOpset("com.microsoft", 1);
        var inputs = new List<string> { q, w, s, scales, z };
        if (Initializers.Bias(c, l.Bias) is { } bias) inputs.AddRange(["", bias]);
        c.AddNode("MatMulIntegerToFloat", inputs, [output], domain: "com.microsoft");
    }

    /// <summary>The conv2d with a quantized output: QuantizeLinear(x, s, z) → QLinearConv(x_q, s, z, W int8, w_scales,
    /// 0, s_out, z_out, bias int32) → DequantizeLinear(y_q, s_out, z_out), the operator written directly (it is what
    /// ORT's QDQ fusion of DQ → Conv → Q produces; its CPU kernel runs on MLAS's int8 convolution, in NHWC after ORT's
    /// layout transformer).</summary>
    private static void QLinearConv(ILoweringContext c, IntegerLayer l, Conv2dGeometry g, string x, string output)
    {
        using var scope = NewDisposeScope();
        string w = Int8(c, "qweight", l.Codes, g.DenseShape);
        string scales = Initializers.Float(c, "scales", l.Scales);
        string wZero = c.UniqueName("weight_zero_point");
        c.AddInitializer(new OnnxInitializer(wZero, OnnxDataType.Int8, [], [0]));
        var (q, s, z) = QuantizeStatic(c, x, l.InputScale, l.InputZeroPoint, "input");
        string ys = Initializers.FloatScalar(c, "output.scale", l.OutputScale);
        string yz = UInt8Scalar(c, "output.zero_point", l.OutputZeroPoint);
        var inputs = new List<string> { q, s, z, w, scales, wZero, ys, yz };
        if (l.BiasCodes() is { } codes)
        {
            using var b = codes.to_type(ScalarType.Int32).contiguous();
            string bias = c.UniqueName("bias_int32");
            c.AddInitializer(new OnnxInitializer(bias, OnnxDataType.Int32, [l.Rows], b.bytes.ToArray()));
            inputs.Add(bias);
        }
        string yq = c.UniqueName("qlinear_conv");
        c.AddNode("QLinearConv", inputs, [yq], GeometryLowering.ConvAttributes(g));
        c.AddNode("DequantizeLinear", [yq, ys, yz], [output]);
    }

    private static string Linear(ILoweringContext c, IntegerLayer l, string x)
    {
        using var wt = l.Codes.t().contiguous();
        string w = Int8(c, "qweight_t", wt, [l.Columns, l.Rows]);
        string scales = Initializers.Float(c, "scales", l.Scales);
        switch (l.Format.Activations)
        {
            case ActivationQuantization.DynamicPerTensor:
            {
                string q = c.UniqueName("input/q"), s = c.UniqueName("input/scale"), z = c.UniqueName("input/zero_point");
                c.AddNode("DynamicQuantizeLinear", [x], [q, s, z]);
                string acc = Initializers.Node(c, "MatMulInteger", "matmul_integer", [q, w, z]);
                string f = Initializers.Node(c, "Cast", "matmul_float", [acc], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Float });
                string scale = Initializers.Node(c, "Mul", "output_scale", [s, scales]);
                return Initializers.Node(c, "Mul", "matmul", [f, scale]);
            }
            default:
            {
                var (q, rowScale, z) = QuantizePerToken(c, x, "input");
                string acc = Initializers.Node(c, "MatMulInteger", "matmul_integer", [q, w, z]);
                string f = Initializers.Node(c, "Cast", "matmul_float", [acc], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Float });
                string rows = Initializers.Node(c, "Mul", "token_scaled", [f, rowScale]);
                return Initializers.Node(c, "Mul", "matmul", [rows, scales]);
            }
        }
    }

    private static string Conv(ILoweringContext c, IntegerLayer l, Conv2dGeometry g, string x)
    {
        string w = Int8(c, "qweight", l.Codes, g.DenseShape);
        string q, s, z;
        if (l.Format.Activations == ActivationQuantization.Static)
        {
            (q, s, z) = QuantizeStatic(c, x, l.InputScale, l.InputZeroPoint, "input");
        }
        else
        {
            q = c.UniqueName("input/q"); s = c.UniqueName("input/scale"); z = c.UniqueName("input/zero_point");
            c.AddNode("DynamicQuantizeLinear", [x], [q, s, z]);
        }
        string acc = c.UniqueName("conv_integer");
        c.AddNode("ConvInteger", [q, w, z], [acc], GeometryLowering.ConvAttributes(g));
        string f = Initializers.Node(c, "Cast", "conv_float", [acc], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Float });
        using var channelScales = l.Scales.reshape(1, -1, 1, 1);
        string scale = Initializers.Node(c, "Mul", "output_scale", [s, Initializers.Float(c, "scales", channelScales)]);
        return Initializers.Node(c, "Mul", "conv", [f, scale]);
    }
}

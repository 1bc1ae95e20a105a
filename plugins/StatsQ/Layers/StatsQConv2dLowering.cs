using Compressor.Sdk.Layers;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>Lowers <see cref="StatsQConv2d"/>: the input quantizer (QuantizeLinear/DequantizeLinear), then Conv with
/// DequantizeLinear(int8 codes [out, in, kh, kw], per-channel step, axis 0) and the float bias.</summary>
internal static class StatsQConv2dLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, StatsQConv2d l, string input, string output)
    {
        var g = new LoweringGraph(context);
        if (context.Target == ExportTarget.Speed && StatsQPatchLowering.Applies(l))
        {
            StatsQPatchLowering.Lower(context, g, l, input, output);
            return;
        }
        if (context.Target == ExportTarget.Speed && l.Input.ShiftFeatures == 0 && l.Input.Scale.numel() == 1)
        {
            LowerInteger(context, g, l, input, output);
            return;
        }
        string x = g.Quantize(input, l.Input, "input", rank: 4);
        int bits = CodedLinear.ContainerBits(l.Bits);
        int type = OnnxDataType.Integer(bits, signed: true);
        context.RequireOpset("", OnnxDataType.MinimumOpset(type));
        string codes = context.UniqueName("qweight");
        context.AddInitializer(new OnnxInitializer(codes, type, l.DenseWeightShape, l.PackedCodes.detach().cpu().bytes.ToArray()));
        string w = g.Node("DequantizeLinear", "weight", [codes, g.Float("step", l.Step)], new() { ["axis"] = 0L });
        var inputs = new List<string> { x, w };
        if (l.Bias is { } b) inputs.Add(g.Float("bias", b));
        context.AddNode("Conv", inputs, [output], new Dictionary<string, object>
        {
            ["dilations"] = new long[] { 1, 1 }, ["group"] = 1L, ["kernel_shape"] = l.Kernel, ["strides"] = l.Stride,
            ["pads"] = new[] { l.Padding[0], l.Padding[1], l.Padding[0], l.Padding[1] },
        });
    }

    /// <summary>The speed form: ConvInteger on the input's uint8 codes and the int8 kernel codes (the stored container
    /// cast to int8, folded by ORT at load), × input scale × step per channel, + bias.</summary>
    private static void LowerInteger(ILoweringContext context, LoweringGraph g, StatsQConv2d l, string input, string output)
    {
        var ig = new IntegerLoweringGraph(g);
        var (codes, scale) = ig.Codes(input, l.Input, "input", unsignedOperand: true);
        int bits = CodedLinear.ContainerBits(l.Bits);
        int type = OnnxDataType.Integer(bits, signed: true);
        context.RequireOpset("", OnnxDataType.MinimumOpset(type));
        string stored = context.UniqueName("qweight");
        context.AddInitializer(new OnnxInitializer(stored, type, l.DenseWeightShape, l.PackedCodes.detach().cpu().bytes.ToArray()));
        string w = bits == 8 ? stored : g.Node("Cast", "weight_int8", [stored], new() { ["to"] = (long)OnnxDataType.Int8 });
        string acc = g.Node("ConvInteger", "conv_integer", [codes, w, ig.UInt8Zero(l.Input, "input")], new()
        {
            ["dilations"] = new long[] { 1, 1 }, ["group"] = 1L, ["kernel_shape"] = l.Kernel, ["strides"] = l.Stride,
            ["pads"] = new[] { l.Padding[0], l.Padding[1], l.Padding[0], l.Padding[1] },
        });
        string y = g.Node("Cast", "conv_float", [acc], new() { ["to"] = (long)OnnxDataType.Float });
        y = g.Node("Mul", "input_scaled", [y, scale]);
        using var step = l.Step.reshape(1, -1, 1, 1);
        y = g.Node("Mul", "conv", [y, g.Float("step", step)]);
        if (l.Bias is { } b)
        {
            using var bias = b.reshape(1, -1, 1, 1);
            y = g.Node("Add", "bias_add", [y, g.Float("bias", bias)]);
        }
        context.AddNode("Identity", [y], [output]);
    }
}

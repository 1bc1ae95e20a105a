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
}

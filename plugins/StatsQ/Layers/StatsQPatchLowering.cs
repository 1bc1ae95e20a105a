using Compressor.Layers.Packing;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The speed form of a <see cref="StatsQConv2d"/> whose stride equals its kernel and that has no padding (a
/// ViT's patch embedding): the convolution is a linear map of non-overlapping patches, so it runs on the same fused
/// kernel as the coded linears (<c>com.microsoft.MatMulIntegerToFloat</c>) instead of ONNX Runtime's ConvInteger
/// (which im2cols and has no fused output scale). Input codes per tensor (QuantizeLinear → Clip, the same codes as the
/// ConvInteger form) → crop to whole patches (H' = ⌊H/kh⌋, W' = ⌊W/kw⌋, as Conv drops a remainder) → Reshape
/// [B, C, H', kh, W', kw] → Transpose [B, H', W', C, kh, kw] → Reshape [B, H'·W', C·kh·kw] → MatMulIntegerToFloat(codes,
/// W [C·kh·kw, out] int8, s, step per channel, z, —, bias) → Transpose → Reshape [B, out, H', W'].</summary>
internal static class StatsQPatchLowering
{
    /// <summary>Whether <paramref name="l"/> has this form: stride = kernel, no padding, one input scale, no shifts.</summary>
    public static bool Applies(StatsQConv2d l) =>
        l.Kernel[0] == l.Stride[0] && l.Kernel[1] == l.Stride[1] && l.Padding.All(p => p == 0) && l.Input.ShiftFeatures == 0 && l.Input.Scale.numel() == 1;

    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, LoweringGraph g, StatsQConv2d l, string input, string output)
    {
        context.RequireOpset("com.microsoft", 1);
        var ig = new IntegerLoweringGraph(g);
        long c = l.InChannels, kh = l.Kernel[0], kw = l.Kernel[1], d = l.OutChannels, k = c * kh * kw;
        string codes = ig.CodesOf(input, l.Input, "input", unsignedOperand: true);
        string shape = g.Node("Shape", "input_shape", [codes]);
        string grid = g.Node("Div", "grid", [g.Node("Slice", "input_hw", [shape, g.Int64("hw_start", 2), g.Int64("hw_end", 4)]), g.Int64("kernel", kh, kw)]);
        string cropped = g.Node("Slice", "whole_patches", [codes, g.Int64("crop_start", 0, 0), g.Node("Mul", "crop_end", [grid, g.Int64("kernel_again", kh, kw)]), g.Int64("crop_axes", 2, 3)]);
        string gh = g.Node("Slice", "grid_h", [grid, g.Int64("h_start", 0), g.Int64("h_end", 1)]);
        string gw = g.Node("Slice", "grid_w", [grid, g.Int64("w_start", 1), g.Int64("w_end", 2)]);
        string patchShape = g.Node("Concat", "patch_shape", [g.Int64("batch_channels", 0, c), gh, g.Int64("kh", kh), gw, g.Int64("kw", kw)], new() { ["axis"] = 0L });
        string patches = g.Node("Reshape", "patch_grid", [cropped, patchShape]);
        patches = g.Reshape(g.Transpose(patches, "patch_major", 0, 2, 4, 1, 3, 5), "patches", 0, -1, k);

        int bits = CodedLinear.ContainerBits(l.Bits);
        int type = OnnxDataType.Integer(bits, signed: true);
        context.RequireOpset("", OnnxDataType.MinimumOpset(type));
        using var scope = NewDisposeScope();
        var wt = l.Codes().reshape(d, k).t().contiguous();
        string stored = context.UniqueName("qweight_t");
        context.AddInitializer(new OnnxInitializer(stored, type, [k, d], IntPacking.Pack(wt, bits, signed: true).bytes.ToArray()));
        string w = bits == 8 ? stored : g.Node("Cast", "weight_int8", [stored], new() { ["to"] = (long)OnnxDataType.Int8 });
        var inputs = new List<string> { patches, w, ig.ScaleOf(l.Input, "input"), g.Float("step", l.Step.reshape(-1)), ig.UInt8Zero(l.Input, "input") };
        if (l.Bias is { } b) inputs.AddRange(["", g.Float("bias", b)]);
        string y = context.UniqueName("patch_embedding");
        context.AddNode("MatMulIntegerToFloat", inputs, [y], domain: "com.microsoft");
        string outShape = g.Node("Concat", "output_shape", [g.Int64("batch_out", 0, d), gh, gw], new() { ["axis"] = 0L });
        context.AddNode("Reshape", [g.Transpose(y, "channels_first", 0, 2, 1), outShape], [output]);
    }
}

using Compressor.Sdk.Layers;
using Compressor.Sdk.Quantization;
using static TorchSharp.torch;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Writes a <see cref="GroupQuantizedLayer"/>'s codes, scales and zero points as the inputs of one
/// DequantizeLinear node and adds the node. Two layouts:
/// <list type="bullet">
/// <item><b>per channel</b> (group size 0, or one group per row): the codes [rows, cols] (or given as their
/// transpose), per-axis DQ (opset 13 style <c>axis</c>; int4 from opset 21, int2 from 25) with scales [channels];</item>
/// <item><b>per group</b>: blocked DQ (opset 21, <c>axis</c> + <c>block_size</c> = group size) with scales of the
/// codes' rank whose blocked dimension has ceil(cols / group) entries.</item>
/// </list>
/// Signed codes have no zero-point input (zero by default); unsigned codes have a zero-point tensor of the same
/// unsigned type and the scales' shape. Packing follows ONNX (<see cref="IntPacking"/>).</summary>
internal static class QuantizedWeight
{
    /// <summary>Adds the DQ of <paramref name="layer"/>'s weight. With <paramref name="transpose"/>, the dequantized
    /// tensor is Wᵀ [cols, rows] blocked along axis 0 (the layout MatMul wants and ORT's MatMulNBits fusion matches:
    /// codes repacked in the transposed order); without it, W [rows, cols] blocked along axis 1 (the stored packing,
    /// reused byte for byte) reshaped to <paramref name="shape"/> when given. Returns the dequantized value name.</summary>
    public static string Dequantize(ILoweringContext context, GroupQuantizedLayer layer, bool transpose, long[]? shape = null)
    {
        using var scope = NewDisposeScope();
        bool signed = layer.Symmetric;
        int type = OnnxDataType.Integer(layer.Bits, signed);
        long rows = layer.Rows, cols = layer.Cols;
        long groups = GroupQuantization.GroupCount(cols, layer.GroupSize);
        bool perChannel = groups == 1;
        context.RequireOpset("", Math.Max(OnnxDataType.MinimumOpset(type), perChannel ? 13 : 21));

        Tensor scales = layer.Scales.detach().cpu().to_type(ScalarType.Float32);   // [rows, groups]
        Tensor? zeros = layer.ZeroPoints();                                      // [rows, groups] int32
        byte[] codeBytes;
        long[] codeDims, scaleDims;
        var attributes = new SortedDictionary<string, object>(StringComparer.Ordinal);
        if (transpose)
        {
            using var codes = layer.Codes();
            using var packed = IntPacking.Pack(codes.t().contiguous(), layer.Bits, signed);
            codeBytes = packed.cpu().bytes.ToArray();
            codeDims = [cols, rows];
            scales = perChannel ? scales.reshape(rows) : scales.t().contiguous();
            zeros = zeros is null ? null : perChannel ? zeros.reshape(rows) : zeros.t().contiguous();
            scaleDims = perChannel ? [rows] : [groups, rows];
            attributes["axis"] = perChannel ? 1L : 0L;
        }
        else
        {
            codeBytes = layer.PackedCodes.detach().cpu().bytes.ToArray();
            bool direct = perChannel && shape is not null;   // per-axis DQ straight on the final (e.g. 4-D) shape
            codeDims = direct ? shape! : [rows, cols];
            scales = perChannel ? scales.reshape(rows) : scales.contiguous();
            zeros = zeros is null ? null : perChannel ? zeros.reshape(rows) : zeros;
            scaleDims = perChannel ? [rows] : [rows, groups];
            attributes["axis"] = perChannel ? 0L : 1L;
            if (direct) shape = null;
        }
        if (!perChannel) attributes["block_size"] = GroupQuantization.EffectiveGroupSize(cols, layer.GroupSize);

        string q = context.UniqueName(transpose ? "qweight_t" : "qweight");
        context.AddInitializer(new OnnxInitializer(q, type, codeDims, codeBytes));
        string s = context.UniqueName(transpose ? "scales_t" : "scales");
        context.AddInitializer(new OnnxInitializer(s, OnnxDataType.Float, scaleDims, scales.contiguous().bytes.ToArray()));
        var inputs = new List<string> { q, s };
        if (zeros is not null)
        {
            using var pz = IntPacking.Pack(zeros, layer.Bits, signed: false);
            string z = context.UniqueName(transpose ? "zero_points_t" : "zero_points");
            context.AddInitializer(new OnnxInitializer(z, type, scaleDims, pz.cpu().bytes.ToArray()));
            inputs.Add(z);
        }
        string w = context.UniqueName(transpose ? "weight_t" : "weight");
        context.AddNode("DequantizeLinear", inputs, [w], attributes);
        if (shape is null) return w;
        string reshaped = context.UniqueName("weight_4d");
        string shapeName = context.UniqueName("weight_shape");
        var shapeBytes = new byte[shape.Length * 8];
        Buffer.BlockCopy(shape, 0, shapeBytes, 0, shapeBytes.Length);
        context.AddInitializer(new OnnxInitializer(shapeName, OnnxDataType.Int64, [shape.Length], shapeBytes));
        context.AddNode("Reshape", [w, shapeName], [reshaped]);
        return reshaped;
    }

    /// <summary>Adds the layer's bias as a float32 initializer; returns its name, or null without bias.</summary>
    public static string? Bias(ILoweringContext context, GroupQuantizedLayer layer)
    {
        if (layer.Bias is not { } bias) return null;
        using var scope = NewDisposeScope();
        var b = bias.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string name = context.UniqueName("bias");
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, b.shape, b.bytes.ToArray()));
        return name;
    }
}

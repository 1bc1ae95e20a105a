using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace MyPlugin.Layers;

/// <summary>The ONNX form of <see cref="ChannelQuantLinear"/>: DequantizeLinear of the int8 codes, stored transposed
/// [in, out] with per-axis scales along axis 1 (opset 13) → MatMul (→ Add bias). The file holds the codes, never a
/// float copy of the weight, so the verification gate's size check passes.</summary>
public static class ChannelQuantLinearLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, ChannelQuantLinear q, string input, string output)
    {
        context.RequireOpset("", 13);
        using var scope = NewDisposeScope();
        long outputs = q.Codes.shape[0], inputs = q.Codes.shape[1];
        string codes = context.UniqueName("codes_t");
        context.AddInitializer(new OnnxInitializer(codes, OnnxDataType.Int8, [inputs, outputs], q.Codes.t().contiguous().cpu().bytes.ToArray()));
        string scales = context.UniqueName("scales");
        context.AddInitializer(new OnnxInitializer(scales, OnnxDataType.Float, [outputs], q.Scales.to_type(ScalarType.Float32).contiguous().cpu().bytes.ToArray()));
        string weight = context.UniqueName("weight_t");
        context.AddNode("DequantizeLinear", [codes, scales], [weight], new Dictionary<string, object> { ["axis"] = 1L });
        if (q.Bias is null)
        {
            context.AddNode("MatMul", [input, weight], [output]);
            return;
        }
        string bias = context.UniqueName("bias");
        context.AddInitializer(new OnnxInitializer(bias, OnnxDataType.Float, [outputs], q.Bias.to_type(ScalarType.Float32).contiguous().cpu().bytes.ToArray()));
        string product = context.UniqueName("matmul");
        context.AddNode("MatMul", [input, weight], [product]);
        context.AddNode("Add", [product, bias], [output]);
    }
}

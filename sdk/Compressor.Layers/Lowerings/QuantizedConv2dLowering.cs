using Compressor.Sdk.Layers;
using Compressor.Sdk.Onnx.Export.Emitters;
using TorchSharp;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="QuantizedConv2d"/> to DequantizeLinear → Conv. The stored packing is reused byte for
/// byte: per channel, per-axis DQ (axis 0) directly on the [out, in/groups, kh, kw] codes; per group, blocked DQ along
/// axis 1 of the [out, in/groups·kh·kw] codes (opset 21) followed by a Reshape to the kernel shape. ORT does not fuse
/// DQ → Conv for float activations (the weight is dequantized once per run); the file still holds only packed codes.</summary>
public sealed class QuantizedConv2dLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => QuantizedConv2d.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var q = layer as QuantizedConv2d ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(QuantizedConv2d)}, got {layer.GetType().Name}");
        string w = QuantizedWeight.Dequantize(context, q, transpose: false, shape: q.DenseWeightShape);
        string? bias = QuantizedWeight.Bias(context, q);
        var inputs = new List<string> { input, w };
        if (bias is not null) inputs.Add(bias);
        context.AddNode("Conv", inputs, [output], ConvAttributes.Of(q.KernelSize, q.Stride, q.Padding, q.Dilation, q.ConvGroups));
    }
}

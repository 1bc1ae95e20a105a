using Compressor.Sdk.Layers;
using Compressor.Sdk.Onnx.Export.Emitters;
using TorchSharp;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="CodebookConv2d"/> to the codebook weight of <see cref="CodebookWeight"/> → Reshape to
/// the kernel shape → Conv.</summary>
public sealed class CodebookConv2dLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => CodebookConv2d.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var q = layer as CodebookConv2d ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(CodebookConv2d)}, got {layer.GetType().Name}");
        string w = CodebookWeight.Emit(context, q);
        var shape = q.DenseWeightShape;
        string kernel = context.UniqueName("codebook_kernel");
        context.AddNode("Reshape", [w, CodebookWeight.Int64(context, "kernel_shape", [shape.Length], shape)], [kernel]);
        string? bias = CodebookWeight.Bias(context, q);
        var inputs = new List<string> { input, kernel };
        if (bias is not null) inputs.Add(bias);
        context.AddNode("Conv", inputs, [output], ConvAttributes.Of(q.KernelSize, q.Stride, q.Padding, q.Dilation, q.ConvGroups));
    }
}

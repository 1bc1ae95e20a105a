using Compressor.Sdk.Layers;
using TorchSharp;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="CodebookLinear"/> to the codebook weight of <see cref="CodebookWeight"/> → Transpose →
/// MatMul (→ Add bias).</summary>
public sealed class CodebookLinearLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => CodebookLinear.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var q = layer as CodebookLinear ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(CodebookLinear)}, got {layer.GetType().Name}");
        string w = CodebookWeight.Emit(context, q);
        string wt = context.UniqueName("codebook_weight_t");
        context.AddNode("Transpose", [w], [wt], new Dictionary<string, object> { ["perm"] = new long[] { 1, 0 } });
        string? bias = CodebookWeight.Bias(context, q);
        if (bias is null)
        {
            context.AddNode("MatMul", [input, wt], [output]);
            return;
        }
        string product = context.UniqueName("matmul");
        context.AddNode("MatMul", [input, wt], [product]);
        context.AddNode("Add", [product, bias], [output]);
    }
}

using Compressor.Sdk.Layers.Structured;
using TorchSharp;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="LowRankLinear"/> to two MatMuls, x·lr1ᵀ [N, r] → ·lr2ᵀ [r, M] (+ bias), or to one
/// dense MatMul when the layer is <see cref="StructuredLinear.PreMerged"/>.</summary>
public sealed class LowRankLinearLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => LowRankLinear.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var l = layer as LowRankLinear ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(LowRankLinear)}, got {layer.GetType().Name}");
        if (l.PreMerged)
        {
            StructuredLowering.PreMerged(context, l, input, output);
            return;
        }
        string h = StructuredLowering.Node(context, "MatMul", "lr1_matmul", [input, StructuredLowering.Float(context, "lr1_t", l.Lr1.t())]);
        string y = StructuredLowering.Node(context, "MatMul", "lr2_matmul", [h, StructuredLowering.Float(context, "lr2_t", l.Lr2.t())]);
        StructuredLowering.FinishWithBias(context, l.Bias, y, output);
    }
}

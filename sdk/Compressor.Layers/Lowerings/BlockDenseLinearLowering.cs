using Compressor.Sdk.Layers.Structured;
using TorchSharp;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="BlockDenseLinear"/> to Reshape [T, B, N/B] → Transpose → batched MatMul with W1ᵀ
/// [B, N/B, r/B] → Transpose → Reshape [..., r] → MatMul with lrᵀ [r, M] (+ bias); or to one dense MatMul when the
/// layer is <see cref="StructuredLinear.PreMerged"/>.</summary>
public sealed class BlockDenseLinearLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => BlockDenseLinear.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var l = layer as BlockDenseLinear ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(BlockDenseLinear)}, got {layer.GetType().Name}");
        if (l.PreMerged)
        {
            StructuredLowering.PreMerged(context, l, input, output);
            return;
        }
        long b = l.Blocks, n = l.InFeatures;
        string xs = StructuredLowering.Node(context, "Reshape", "blocks_in", [input, StructuredLowering.Int64(context, "blocks_in_shape", -1, b, n / b)]);
        xs = StructuredLowering.Transpose(context, xs, "blocks_first", 1, 0, 2);
        string z = StructuredLowering.Node(context, "MatMul", "stage1", [xs, StructuredLowering.Float(context, "w1_t", l.W1.transpose(1, 2))]);
        z = StructuredLowering.Transpose(context, z, "stage1_tokens_first", 1, 0, 2);
        z = StructuredLowering.Node(context, "Reshape", "concatenated", [z, StructuredLowering.LeadingShapeWith(context, input, l.Rank)]);
        string y = StructuredLowering.Node(context, "MatMul", "dense_stage", [z, StructuredLowering.Float(context, "lr_t", l.Lr.t())]);
        StructuredLowering.FinishWithBias(context, l.Bias, y, output);
    }
}

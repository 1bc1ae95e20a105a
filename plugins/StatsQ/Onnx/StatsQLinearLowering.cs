using Compressor.Plugins.StatsQ.Compressed;
using Compressor.Sdk.Onnx;
using TorchSharp;

namespace Compressor.Plugins.StatsQ.Onnx;

/// <summary>Lowers <see cref="StatsQLinear"/>: [input shifts → Max/Min → QuantizeLinear → DequantizeLinear → shift]
/// → MatMul with DequantizeLinear(int codes, step) → [+ ReduceSum(x)·step/2 for the zero-less grid] → + bias. The
/// weight value a·k + a/2 = s·(2k+1)/2n is reproduced exactly: a·k is what DequantizeLinear computes, and the half
/// step enters as (Σ_j x_j)·a/2, which keeps DQ → MatMul adjacent for ORT's fusions.</summary>
public sealed class StatsQLinearLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => StatsQLinear.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var l = layer as StatsQLinear ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(StatsQLinear)}, got {layer.GetType().Name}");
        var g = new LoweringGraph(context);
        string y = g.Linear(input, l, "linear", rank: null);
        context.AddNode("Identity", [y], [output]);
    }
}

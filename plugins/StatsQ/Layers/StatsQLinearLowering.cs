using Compressor.Sdk.Layers;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>Lowers <see cref="StatsQLinear"/>: [input shifts → Max/Min → QuantizeLinear → DequantizeLinear → shift]
/// → MatMul with DequantizeLinear(int codes, step) → [+ ReduceSum(x)·step/2 for the zero-less grid] → + bias. The
/// weight value a·k + a/2 = s·(2k+1)/2n is reproduced exactly: a·k is what DequantizeLinear computes, and the half
/// step enters as (Σ_j x_j)·a/2, which keeps DQ → MatMul adjacent for ORT's fusions. For <see cref="ExportTarget.Speed"/>, a
/// layer with an input quantizer runs on MatMulInteger (<see cref="IntegerLoweringGraph.Linear"/>).</summary>
internal static class StatsQLinearLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, StatsQLinear l, string input, string output)
    {
        var g = new LoweringGraph(context);
        string y = context.Target == ExportTarget.Speed && IntegerLoweringGraph.HasIntegerForm(l)
            ? new IntegerLoweringGraph(g).Linear(input, l, "linear")
            : g.Linear(input, l, "linear", rank: null);
        context.AddNode("Identity", [y], [output]);
    }
}

using Compressor.Layers.Packing;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>Round to nearest on GPTQ's grid (README "Rounding"): every group's grid from its own weights
/// (<see cref="MinMaxGrid"/>), q = clamp(round(w/scale) + zero). With AWQ first this is AWQ as published (whose
/// quantizer is the same min-max grid); alone it is the round-to-nearest baseline GPTQ's paper compares with.</summary>
public static class NearestRounding
{
    /// <summary>Quantizes <paramref name="weight"/> [rows, cols].</summary>
    public static LayerCodes Quantize(Tensor weight, GptqSettings settings)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.detach().to_type(ScalarType.Float32);
        long rows = w.shape[0], cols = w.shape[1];
        long g = GroupQuantization.EffectiveGroupSize(cols, settings.GroupSize), groups = GroupQuantization.GroupCount(cols, settings.GroupSize);
        var scales = zeros(rows, groups);
        var zeroPoints = zeros(rows, groups);
        var codes = zeros(rows, cols);
        for (long k = 0; k < groups; k++)
        {
            long width = Math.Min(g, cols - k * g);
            var slice = w.narrow(1, k * g, width);
            using var grid = MinMaxGrid.Fit(slice, settings.Bits, settings.Symmetric);
            codes.narrow(1, k * g, width).copy_(grid.Codes(slice));
            scales[.., (int)k] = grid.Scale;
            zeroPoints[.., (int)k] = grid.Zero;
        }
        return GptqSolver.Package(codes, scales, zeroPoints, settings, 0, double.NaN);
    }
}

using Compressor.Layers.Packing;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>Round to nearest on GPTQ's grid (README "Rounding"): every group's grid from its own weights
/// (<see cref="MinMaxGrid"/>), q = clamp(round(w/scale) + zero). With AWQ first this is AWQ as published (whose
/// quantizer is the same min-max grid); alone it is the round-to-nearest baseline GPTQ's paper compares with. All
/// groups at once: a partial last group is padded with zeros, which changes neither its range (the grid always spans
/// 0) nor its codes.</summary>
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
        var padded = groups * g == cols ? w : nn.functional.pad(w, [0, groups * g - cols]);
        var byGroup = padded.reshape(rows * groups, g);
        using var grid = MinMaxGrid.Fit(byGroup, settings.Bits, settings.Symmetric);
        var codes = grid.Codes(byGroup).reshape(rows, groups * g).narrow(1, 0, cols);
        return GptqSolver.Package(codes, grid.Scale.reshape(rows, groups), grid.Zero.reshape(rows, groups), settings, 0, double.NaN);
    }
}

using Compressor.Plugins.Sparsity;
using Compressor.Layers.Structured;
using Compressor.Plugins.Sparsity.Algorithm;
using TorchSharp;
using static TorchSharp.torch;

namespace Sparsity.Tests;

/// <summary>Fits from a dense checkpoint: the truncated-SVD error is the tail singular values (Eckart–Young), and the
/// block fits are exact least-squares solutions (they recover a matrix that has their structure, and beat a random
/// structured matrix of the same form).</summary>
public sealed class DenseFitTests
{
    [Fact]
    public void LowRankErrorEqualsTheTailSingularValues()
    {
        var g = new Generator(8);
        using var w = randn([48, 32], generator: g, dtype: ScalarType.Float64).to_type(ScalarType.Float32);
        using var layer = DenseFit.Fit(new StructureSizes(Structure.LowRank, 8, 0), w, null);
        using var approx = layer.DenseWeight();
        double error = w.sub(approx).square().sum().item<float>();
        var s = linalg.svdvals(w.to_type(ScalarType.Float64));
        double tail = s.narrow(0, 8, s.shape[0] - 8).square().sum().item<double>();
        // float32 SVD of a 48×32 matrix: relative agreement 1e-4.
        Assert.Equal(tail, error, tail * 1e-4);
    }

    [Theory]
    [InlineData("blockshuffle", 32, 64)]
    [InlineData("blockshuffle", 64, 32)]
    [InlineData("blockdense", 32, 64)]
    public void BlockFitsRecoverStructuredMatricesExactly(string kind, int n, int m)
    {
        var g = new Generator(12);
        StructuredLinear source = kind == "blockshuffle"
            ? BlockShuffleLinear.FromBlocks(randn([4, Math.Min(n, m) / 4, n / 4], generator: g), randn([4, m / 4, Math.Min(n, m) / 4], generator: g), null)
            : BlockDenseLinear.FromFactors(randn([4, 4, n / 4], generator: g), randn([m, 16], generator: g), null);
        using var w = source.DenseWeight();
        var sizes = kind == "blockshuffle" ? new StructureSizes(Structure.BlockShuffle, 0, 4) : new StructureSizes(Structure.BlockDense, 16, 4);
        using var fit = DenseFit.Fit(sizes, w, null);
        using var back = fit.DenseWeight();
        double relative = w.sub(back).norm().item<float>() / w.norm().item<float>();
        Assert.True(relative < 1e-4, $"{kind}: relative error {relative:G3} of refitting a matrix of its own structure");
        // On a general matrix the fit beats a random (scaled-to-match) structure by a wide margin.
        using var dense = randn([m, n], generator: g);
        using var fitted = DenseFit.Fit(sizes, dense, null);
        double fitError = dense.sub(fitted.DenseWeight()).norm().item<float>();
        Assert.True(fitError < dense.norm().item<float>(), $"{kind}: fit error {fitError} not below ‖W‖");
        source.Dispose();
    }
}

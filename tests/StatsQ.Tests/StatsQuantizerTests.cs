using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace StatsQ.Tests;

public sealed class StatsQuantizerTests
{
    [Theory]
    [InlineData(2)] [InlineData(3)] [InlineData(4)]
    public void ValuesLieOnTheZeroLessSymmetricGrid(int bits)
    {
        var w = TinyModels.Inputs([16, 256], seed: 2);
        using var q = StatsQuantizer.Quantize(w, bits);
        int n = 1 << (bits - 1);
        for (int r = 0; r < 16; r++)
        {
            double s = 2 * w[r].abs().mean().item<float>();
            var values = q[r].data<float>().ToArray().Distinct().Order().ToArray();
            Assert.True(values.Length <= 1 << bits, $"row {r}: {values.Length} distinct values > 2^{bits}");
            Assert.DoesNotContain(0f, values);
            var allowed = Enumerable.Range(-n, 2 * n).Select(k => s * (2 * k + 1) / (2.0 * n)).ToArray();
            foreach (var v in values) Assert.Contains(allowed, a => Math.Abs(a - v) <= 1e-6 * s);
            // Symmetric: the set of levels a row can use is closed under negation.
            Assert.All(allowed, a => Assert.Contains(allowed, b => Math.Abs(a + b) <= 1e-9));
        }
        using var codes = StatsQuantizer.Codes(w, bits);
        Assert.Equal(-n, codes.min().item<long>());
        Assert.Equal(n - 1, codes.max().item<long>());
        Tolerances.AssertClose(q, StatsQuantizer.Dequantize(codes, StatsQuantizer.Scale(w), bits), rtol: 1e-6, atol: 1e-7, "codes → values");
    }

    [Fact]
    public void TwoBitLevelOccupancyMatchesTheGaussianTheory()
    {
        // For N(0,1) rows, m = mean|w| ≈ 0.798σ; thresholds 0, ±m: P(|w| > 0.798σ) = 42.5% → 21.2% per outer level,
        // 28.8% per inner level (plugins/StatsQ/README.md, "StatsQ weight quantizer"). 1e5 entries per row: sampling
        // error ≈ 0.15 pt.
        var w = TinyModels.Inputs([4, 100_000], seed: 5);
        using var codes = StatsQuantizer.Codes(w, 2);
        var counts = codes.add(2).flatten().bincount(null, 4).to_type(ScalarType.Float64).div(codes.numel()).data<double>().ToArray();
        Assert.Equal(0.212, counts[0], 0.005);
        Assert.Equal(0.287, counts[1], 0.005);
        Assert.Equal(0.287, counts[2], 0.005);
        Assert.Equal(0.212, counts[3], 0.005);
    }

    [Fact]
    public void GradientIsTheIdentityIncludingClippedEntries()
    {
        var w = TinyModels.Inputs([8, 64], seed: 7).mul(3).requires_grad_(true);
        var g = TinyModels.Inputs([8, 64], seed: 8);
        using var q = StatsQuantizer.Quantize(w, 2);
        q.backward([g]);
        // Some entries are clipped (|w| > s = 2·mean|w|) and still get the full gradient.
        var s = StatsQuantizer.Scale(w);
        Assert.True(w.detach().abs().gt(s).any().item<bool>());
        Tolerances.AssertIdentical(g, w.grad!, "dL/dW = dL/dWq");
    }
}

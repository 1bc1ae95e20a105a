using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Layers.Quantized;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace RoundToNearest.Tests;

public sealed class RoundToNearestQuantizerTests
{
    private static Tensor Gaussian(long rows = 256, long cols = 512, int seed = 11) => TinyModels.Inputs([rows, cols], seed);

    private static double SqnrOf(Tensor w, int bits, int group, QuantScheme scheme, bool clip = false)
    {
        var q = RoundToNearestQuantizer.Quantize(w, bits, group, scheme, clip);
        using var deq = GroupQuantization.Dequantize(q.Codes, q.Scales, q.ZeroPoints, group);
        return Sqnr.Db(w, deq);
    }

    // Floors for N(0,1) rows, groups of 32, symmetric: the step is at most Δ = max|w|/qmax (the full signed grid makes
    // it max(max(w)/qmax, −min(w)/2^(b−1)), a little smaller when the negative side dominates) with E[max|w|] ≈ 2.1σ over
    // 32 samples, noise Δ²/12, so SQNR ≳ 10·log10(12·qmax²/2.1²): 8 bits → 46.4 dB, 4 bits → 21.2 dB. The floors sit
    // 2 dB below. At 2 bits (qmax = 1) the grid is mostly {−Δ, 0, Δ}: ≈ 4.3 dB measured with a ±qmax grid, floor 3 dB.
    [Theory]
    [InlineData(8, 44.0)]
    [InlineData(4, 19.0)]
    [InlineData(2, 3.0)]
    public void SymmetricSqnrMatchesUniformQuantizerTheory(int bits, double floorDb)
    {
        double db = SqnrOf(Gaussian(), bits, 32, QuantScheme.Symmetric);
        Assert.True(db >= floorDb, $"{bits}-bit SQNR {db:F2} dB < {floorDb} dB");
        Assert.True(db <= floorDb + 6, $"{bits}-bit SQNR {db:F2} dB is implausibly high (> {floorDb + 6} dB)");
    }

    [Fact]
    public void EachBitAddsAboutSixDb()
    {
        var w = Gaussian();
        double d8 = SqnrOf(w, 8, 32, QuantScheme.Symmetric), d4 = SqnrOf(w, 4, 32, QuantScheme.Symmetric);
        // 4 extra bits with qmax 7 → 127: 20·log10(127/7) = 25.2 dB (the full signed grid gains a little more at 4 bits,
        // where the extra negative code is 1/8 of the range, than at 8 bits, where it is 1/128).
        Assert.InRange(d8 - d4, 24.2, 26.2);
    }

    [Fact]
    public void AsymmetricUsesAllFourLevelsAtTwoBits()
    {
        var w = Gaussian();
        Assert.True(SqnrOf(w, 2, 32, QuantScheme.Asymmetric) > SqnrOf(w, 2, 32, QuantScheme.Symmetric) + 1.0);
    }

    [Theory]
    [InlineData(2)] [InlineData(4)] [InlineData(8)]
    public void ClipSearchIsNeverWorseAndHelpsAtLowBits(int bits)
    {
        var w = Gaussian();
        double plain = SqnrOf(w, bits, 64, QuantScheme.Symmetric), clipped = SqnrOf(w, bits, 64, QuantScheme.Symmetric, clip: true);
        Assert.True(clipped >= plain - 1e-9, $"clip search lowered SQNR {plain:F3} → {clipped:F3}");
        if (bits <= 4) Assert.True(clipped > plain + 0.3, $"clip search should help at {bits} bits: {plain:F3} → {clipped:F3}");
    }

    [Fact]
    public void WeightsOnTheGridAreRecoveredExactly()
    {
        var codes = randint(-7, 8, [16, 64], dtype: ScalarType.Int32);
        codes[TensorIndex.Colon, TensorIndex.Slice(0, 64, 32)] = tensor(7);  // every group reaches qmax, so max|w| = 7·s
        var scales = rand(16, 2).add(0.1f);
        using var w = GroupQuantization.Dequantize(codes, scales, null, 32);
        var q = RoundToNearestQuantizer.Quantize(w, 4, 32, QuantScheme.Symmetric, clipSearch: false);
        Tolerances.AssertIdentical(codes, q.Codes, "codes");
        Tolerances.AssertClose(scales, q.Scales, rtol: 1e-6, atol: 0, "scales");
    }

    [Fact]
    public void CodesStayInRangeAndZeroGroupsAreSafe()
    {
        var w = Gaussian(8, 100);
        w[2] = zeros(100);
        foreach (var scheme in new[] { QuantScheme.Symmetric, QuantScheme.Asymmetric })
        {
            var q = RoundToNearestQuantizer.Quantize(w, 2, 0, scheme, clipSearch: true);
            var (min, max) = IntPacking.Range(2, scheme == QuantScheme.Symmetric);
            Assert.Equal(new long[] { 8, 1 }, q.Scales.shape);
            Assert.True(q.Codes.min().item<int>() >= min && q.Codes.max().item<int>() <= max);
            using var deq = GroupQuantization.Dequantize(q.Codes, q.Scales, q.ZeroPoints, 0);
            Assert.True(deq.isfinite().all().item<bool>());
            Assert.Equal(0f, deq[2].abs().max().item<float>());
        }
    }

    [Fact]
    public void QuantizedConvComputesTheDequantizedConvolution()
    {
        var conv = nn.Conv2d(4, 6, (3, 3), stride: (2, 2), padding: (1, 1));
        var w = conv.weight!.detach();
        var q = RoundToNearestQuantizer.Quantize(w.flatten(1), 4, 12, QuantScheme.Asymmetric, clipSearch: false);
        var layer = QuantizedLayer.FromCodes(WeightGeometry.Of(conv), new QuantizedFormat(4, 12, Symmetric: false), q.Codes, q.Scales, q.ZeroPoints, conv.bias!.detach());
        var x = TinyModels.Inputs([2, 4, 9, 9]);
        using var dense = GroupQuantization.Dequantize(q.Codes, q.Scales, q.ZeroPoints, 12).reshape(w.shape);
        using var expected = nn.functional.conv2d(x, dense, conv.bias, [2, 2], [1, 1]);
        Tolerances.AssertClose(expected, layer.forward(x), rtol: 1e-6, atol: 1e-6, "conv output");
        Assert.Equal(w.shape, layer.DenseWeightShape);
    }
}

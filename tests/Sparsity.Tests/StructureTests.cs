using Compressor.Plugins.Sparsity;
using Compressor.Layers.Structured;
using Compressor.Plugins.Sparsity.Algorithm;
using Compressor.Sdk.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace Sparsity.Tests;

/// <summary>The structures of plugins/Sparsity/README.md, "Parameterisations": parameter counts against its formulas
/// and the paper's FFN fractions, forward equal to the materialised dense product, and the BlockShuffle index semantics
/// against a scalar brute force.</summary>
public sealed class StructureTests
{
    private static void Randomise(nn.Module layer, int seed)
    {
        var g = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var p in layer.parameters()) p.copy_(randn(p.shape, generator: g));
    }

    private static long Weights(nn.Module layer) => layer.named_parameters().Where(p => p.name != "bias").Sum(p => p.parameter.numel());

    [Theory]
    [InlineData(256, 1024)]
    [InlineData(1024, 256)]
    [InlineData(96, 40)]
    public void ParameterCountsEqualTheFormulas(int n, int m)
    {
        using var low = new LowRankLinear(n, m, 8, hasBias: true);
        Assert.Equal(8L * (n + m), low.StructuredParameterCount);
        Assert.Equal(low.StructuredParameterCount, Weights(low));
        using var shuffle = new BlockShuffleLinear(n, m, 4, hasBias: true);
        Assert.Equal((long)Math.Min(n, m) * (n + m) / 4, shuffle.StructuredParameterCount);
        Assert.Equal(shuffle.StructuredParameterCount, Weights(shuffle));
        using var dense = new BlockDenseLinear(n, m, 16, 4, hasBias: true);
        Assert.Equal(16L * (n / 4 + m), dense.StructuredParameterCount);
        Assert.Equal(dense.StructuredParameterCount, Weights(dense));
        Assert.Equal(32 * dense.StructuredParameterCount, dense.WeightStorageBits);
    }

    /// <summary>The paper's FFN fractions for d → 4d → d (d = 256, the width of the tests' tiny GPT): LowRank r = 64
    /// and BlockShuffle B = 4 are 31.25%, BlockDense B = 4, r = 96 is 29.3%; r = 128 / B = 2 are 62.5%.</summary>
    [Fact]
    public void FfnFractionsMatchThePaper()
    {
        const long d = 256;
        double Pair(StructureSizes s) => (double)(s.ParameterCount(d, 4 * d) + s.ParameterCount(4 * d, d)) / (8 * d * d);
        Assert.Equal(0.3125, Pair(new(Structure.LowRank, 64, 0)), 10);
        Assert.Equal(0.625, Pair(new(Structure.LowRank, 128, 0)), 10);
        Assert.Equal(0.3125, Pair(new(Structure.BlockShuffle, 0, 4)), 10);
        Assert.Equal(0.625, Pair(new(Structure.BlockShuffle, 0, 2)), 10);
        Assert.Equal(0.29296875, Pair(new(Structure.BlockDense, 96, 4)), 10);
        // --fraction picks those sizes.
        Assert.Equal(64, StructureSizes.Choose(Structure.LowRank, d, 4 * d, 0.32, 0, 0, "fc1").Rank);
        Assert.Equal(128, StructureSizes.Choose(Structure.LowRank, 4 * d, d, 0.63, 0, 0, "fc2").Rank);
        Assert.Equal(4, StructureSizes.Choose(Structure.BlockShuffle, d, 4 * d, 0.32, 0, 0, "fc1").Blocks);
        Assert.Equal(2, StructureSizes.Choose(Structure.BlockShuffle, 4 * d, d, 0.63, 0, 0, "fc2").Blocks);
    }

    [Theory]
    [InlineData("lowrank", 24, 40)]
    [InlineData("blockshuffle", 24, 40)]
    [InlineData("blockshuffle", 48, 16)]
    [InlineData("blockdense", 24, 40)]
    public void ForwardEqualsTheMaterialisedDenseProduct(string kind, int n, int m)
    {
        using StructuredLinear layer = kind switch
        {
            "lowrank" => new LowRankLinear(n, m, 6, true),
            "blockshuffle" => new BlockShuffleLinear(n, m, 4, true),
            _ => new BlockDenseLinear(n, m, 8, 4, true),
        };
        Randomise(layer, n * m);
        using var x = TinyModels.Inputs([2, 5, n], seed: 2);
        using var y = layer.forward(x);
        using var w = layer.DenseWeight();
        using var merged = nn.functional.linear(x, w, layer.Bias);
        // Unit-scale products over ≤ 48 terms: float32 rounding stays far below 1e-4.
        Tolerances.AssertClose(merged, y, rtol: 1e-5, atol: 1e-4, $"{kind} structured vs merged");
    }

    /// <summary>W[o, i] written out from the BlockShuffle index order (plugins/Sparsity/README.md, "Parameterisations")
    /// with scalar loops: output o = t·B + j is row t of stage-2 block j; input i is column i mod (N/B) of stage-1
    /// block c = i / (N/B); stage-1 row a of block c is z entry c·q + a, which stage-2 block (c·q + a) mod B reads as
    /// its column (c·q + a) / B.</summary>
    [Theory]
    [InlineData(8, 16, 4)]
    [InlineData(16, 8, 2)]
    [InlineData(12, 12, 3)]
    public void BlockShuffleMatchesTheBruteForceIndexSemantics(int n, int m, int b)
    {
        using var layer = new BlockShuffleLinear(n, m, b, false);
        Randomise(layer, 7 * n + m);
        int q = Math.Min(n, m) / b, nb = n / b;
        var w1 = layer.W1.detach().data<float>().ToArray();   // [B, q, N/B]
        var w2 = layer.W2.detach().data<float>().ToArray();   // [B, M/B, q]
        var expected = new float[m * n];
        for (int o = 0; o < m; o++)
            for (int i = 0; i < n; i++)
            {
                int j = o % b, t = o / b, c = i / nb, col = i % nb;
                double sum = 0;
                for (int a = 0; a < q; a++)
                {
                    int entry = c * q + a;
                    if (entry % b != j) continue;
                    sum += (double)w2[(j * (m / b) + t) * q + entry / b] * w1[(c * q + a) * nb + col];
                }
                expected[o * n + i] = (float)sum;
            }
        using var dense = layer.DenseWeight();
        Tolerances.AssertClose(tensor(expected).reshape(m, n), dense, rtol: 1e-5, atol: 1e-5, "block-shuffle matrix");
    }
}

using Compressor.Plugins.Sparsity;
using Compressor.Engine.Checkpoints;
using Compressor.Layers.Structured;
using Compressor.Plugins.Sparsity.Algorithm;
using static TorchSharp.torch;

namespace Sparsity.Tests;

/// <summary>Our structured layers against the authors' own ops: tests/Golden/reference_golden.safetensors holds inputs,
/// factors and outputs of StructuredFFN's <c>block_shuffle_bmm</c>, <c>block_dense_bmm</c> and <c>low_rank_custom</c>
/// (CLAIRE-Labo/StructuredFFN@2442a14, run in float64 on PyTorch 2.11; see tests/Golden/README.md), and the guide that
/// the reference initialises for BlockShuffle (block_diag(W2)·block_diag(W1), no permutations).</summary>
public sealed class ReferenceGoldenTests
{
    private static readonly string GoldenPath = Path.Combine(AppContext.BaseDirectory, "Golden", "reference_golden.safetensors");

    /// <summary>Our layers run in float32 against a float64 reference; inputs and factors are N(0, 1) with inner widths
    /// ≤ 48, so outputs are O(10) and float32 accumulation error stays below 1e−4 absolute; a wrong index (the
    /// interleaved output order) moves outputs by O(1).</summary>
    private const double Float32Atol = 1e-4;

    private static Tensor Golden(string name)
    {
        using var reader = CheckpointFormats.Open(GoldenPath);
        using var t = reader.Read(name);
        return t.to_type(ScalarType.Float32);
    }

    [Theory]
    [InlineData("up")]
    [InlineData("down")]
    [InlineData("square")]
    public void BlockShuffleReproducesTheReferenceIndexSemantics(string shape)
    {
        using var scope = NewDisposeScope();
        using var layer = BlockShuffleLinear.FromBlocks(Golden($"blockshuffle.{shape}.blkdiag1"), Golden($"blockshuffle.{shape}.blkdiag2"), null);
        var y = layer.forward(Golden($"blockshuffle.{shape}.x"));
        var expected = Golden($"blockshuffle.{shape}.out");
        Assert.Equal(expected.shape, y.shape);
        Assert.True(y.allclose(expected, rtol: 0, atol: Float32Atol), $"{shape}: max |Δ| = {y.sub(expected).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData("up")]
    [InlineData("down")]
    [InlineData("square")]
    public void TheQuirkGuideIsTheReferencesGuideAndTheExactGuideIsTheLayersMatrix(string shape)
    {
        using var scope = NewDisposeScope();
        using var layer = BlockShuffleLinear.FromBlocks(Golden($"blockshuffle.{shape}.blkdiag1"), Golden($"blockshuffle.{shape}.blkdiag2"), null);
        var quirk = StructureInit.InitialGuide(layer, blockShuffleQuirk: true);
        Assert.True(quirk.allclose(Golden($"blockshuffle.{shape}.reference_guide_init"), rtol: 0, atol: Float32Atol));
        // The exact guide (our default) is the matrix the layer applies: x·Gᵀ equals the reference op's output.
        var exact = StructureInit.InitialGuide(layer, blockShuffleQuirk: false);
        var y = Golden($"blockshuffle.{shape}.x").matmul(exact.t());
        Assert.True(y.allclose(Golden($"blockshuffle.{shape}.out"), rtol: 0, atol: Float32Atol));
    }

    [Theory]
    [InlineData("up")]
    [InlineData("down")]
    public void BlockDenseReproducesTheReference(string shape)
    {
        using var scope = NewDisposeScope();
        using var layer = BlockDenseLinear.FromFactors(Golden($"blockdense.{shape}.blkdiag"), Golden($"blockdense.{shape}.linear"), null);
        var y = layer.forward(Golden($"blockdense.{shape}.x"));
        Assert.True(y.allclose(Golden($"blockdense.{shape}.out"), rtol: 0, atol: Float32Atol));
    }

    [Fact]
    public void LowRankReproducesTheReference()
    {
        using var scope = NewDisposeScope();
        using var layer = LowRankLinear.FromFactors(Golden("lowrank.linear1"), Golden("lowrank.linear2"), null);
        var y = layer.forward(Golden("lowrank.x"));
        Assert.True(y.allclose(Golden("lowrank.out"), rtol: 0, atol: Float32Atol));
    }
}

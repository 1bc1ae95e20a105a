using Compressor.Plugins.Sparsity;
using Compressor.Layers.Structured;
using Compressor.Plugins.Sparsity.Algorithm;
using Compressor.Sdk.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace Sparsity.Tests;

/// <summary>Self-guided training (plugins/Sparsity/README.md, "Self-guided training"): the α schedule, α = 1 is the
/// guide path, the from-scratch guide is the product of the factors, and reduce-flop uses the guide with frequency
/// α.</summary>
public sealed class SgtTests
{
    [Fact]
    public void AlphaIsOneHalfZeroZeroAtZeroHalfEndAndAfter()
    {
        const long s = 1000;
        Assert.Equal(1.0, SgtSchedule.Alpha(0, s), 12);
        Assert.Equal(0.5, SgtSchedule.Alpha(s / 2, s), 12);
        Assert.Equal(0.0, SgtSchedule.Alpha(s, s), 12);
        Assert.Equal(0.0, SgtSchedule.Alpha(s + 17, s), 12);
        Assert.True(SgtSchedule.Alpha(s / 4, s) > SgtSchedule.Alpha(s / 2, s));
    }

    private static LowRankLinear RandomLowRank(int seed)
    {
        var g = new Generator((ulong)seed);
        return LowRankLinear.FromFactors(randn([3, 10], generator: g), randn([6, 3], generator: g), randn([6], generator: g));
    }

    [Fact]
    public void AlphaOneGivesTheGuidePath()
    {
        using var layer = RandomLowRank(1);
        using var guide = TinyModels.Inputs([6, 10], seed: 9);
        using var sgt = new SelfGuidedLinear(layer, guide, guidedSteps: 100, reduceFlop: true, seed: 0);
        sgt.train();
        using var x = TinyModels.Inputs([4, 10], seed: 2);
        using var y = sgt.forward(x);   // step 0: α = 1
        using var expected = nn.functional.linear(x, guide, layer.Bias);
        using var structured = layer.forward(x);
        Tolerances.AssertClose(expected, y, rtol: 1e-6, atol: 1e-6, "α = 1 output");
        Assert.False(structured.allclose(y, 1e-3, 1e-3), "the guide must differ from the structured path for this test to mean anything");
        Assert.Equal(1, sgt.Step);
        // Past S_g the output is the pure structured path.
        sgt.StepCounter.fill_(100);
        using var after = sgt.forward(x);
        Tolerances.AssertClose(structured, after, rtol: 1e-6, atol: 1e-6, "α = 0 output");
    }

    [Fact]
    public void GuideStartsAsTheProductOfTheFactors()
    {
        using var generator = new Generator(4);
        using var low = (LowRankLinear)StructureInit.FromScratch(new StructureSizes(Structure.LowRank, 8, 0), 32, 48, true, generator, CPU);
        using var lowGuide = StructureInit.InitialGuide(low, blockShuffleQuirk: false);
        Tolerances.AssertClose(matmul(low.Lr2, low.Lr1), lowGuide, rtol: 1e-5, atol: 1e-6, "lr2·lr1");

        using var bd = (BlockDenseLinear)StructureInit.FromScratch(new StructureSizes(Structure.BlockDense, 16, 4), 32, 48, true, generator, CPU);
        using var bdGuide = StructureInit.InitialGuide(bd, false);
        var blocks = Enumerable.Range(0, 4).Select(c => bd.W1[c]).ToArray();
        Tolerances.AssertClose(matmul(bd.Lr, block_diag(blocks)), bdGuide, rtol: 1e-5, atol: 1e-5, "lr·BD(W1)");

        using var bs = (BlockShuffleLinear)StructureInit.FromScratch(new StructureSizes(Structure.BlockShuffle, 0, 4), 32, 48, true, generator, CPU);
        using var exact = StructureInit.InitialGuide(bs, false);
        using var quirk = StructureInit.InitialGuide(bs, true);
        using var x = TinyModels.Inputs([5, 32], seed: 3);
        Tolerances.AssertClose(bs.ForwardStructured(x), matmul(x, exact.t()), rtol: 1e-5, atol: 1e-5, "exact block-shuffle guide");
        var unshuffled = block_diag(Enumerable.Range(0, 4).Select(c => matmul(bs.W2[c], bs.W1[c])).ToArray());
        Tolerances.AssertClose(unshuffled, quirk, rtol: 1e-6, atol: 1e-6, "reference quirk BD(W2)·BD(W1)");
        Assert.False(exact.allclose(quirk, 1e-3, 1e-3), "the quirk differs from the structured map");
        // Reference inits: orthogonal blocks have unit singular values; LowRank factors split √S evenly.
        var sv = linalg.svdvals(bs.W1[0]);
        Tolerances.AssertClose(ones_like(sv), sv, rtol: 0, atol: 1e-4, "orthogonal block");
        Tolerances.AssertClose(linalg.svdvals(low.Lr1), linalg.svdvals(low.Lr2), rtol: 1e-4, atol: 1e-6, "balanced low-rank factors");
    }

    /// <summary>10,000 reduce-flop forwards at α = 0.75 (S_g so long that α moves by &lt; 10⁻³): the guide share is
    /// within 0.02 of α (4.6 binomial standard deviations, √(0.75·0.25/10⁴) = 0.0043).</summary>
    [Fact]
    public void ReduceFlopUsesTheGuideWithFrequencyAlpha()
    {
        using var layer = RandomLowRank(2);
        using var guide = TinyModels.Inputs([6, 10], seed: 5);
        const long s = 30_000_000;
        using var sgt = new SelfGuidedLinear(layer, guide, s, reduceFlop: true, seed: 3);
        sgt.StepCounter.fill_(s / 3);   // α = ½(1 + cos(π/3)) = 0.75
        Assert.Equal(0.75, sgt.Alpha, 3);
        sgt.train();
        using var x = TinyModels.Inputs([1, 10], seed: 6);
        using var noGrad = no_grad();
        for (int i = 0; i < 10_000; i++) sgt.forward(x).Dispose();
        Assert.InRange(sgt.GuideUses / 10_000.0, 0.73, 0.77);
    }
}

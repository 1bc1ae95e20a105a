using Compressor.Layers.Codebook;
using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace JLCM.Tests;

/// <summary>The identities of plugins/JLCM/README.md ("Memory accounting" to "Mapping gradient") on small tensors, each
/// checked against an independent hand computation.</summary>
public sealed class AlgorithmTests
{
    [Fact]
    public void MemoryFormulaIncludesPermutationCost()
    {
        // O = 96, I = 64, b = 2, G = 4: codes 2·96·64; variant scales 16·4 + 16·4; variant codebooks 16·4·4.
        Assert.Equal(2L * 96 * 64 + 16 * 4 + 16 * 4, CodebookBits.LayerBits(96, 64, 2, 4, codebookPerGroup: false, explicitPermutation: false));
        Assert.Equal(2L * 96 * 64 + 16 * 4 * 4, CodebookBits.LayerBits(96, 64, 2, 4, codebookPerGroup: true, explicitPermutation: false));
        // An unfolded permutation: 96·⌈log2 96⌉ = 96·7.
        Assert.Equal(96L * 7, CodebookBits.LayerBits(96, 64, 2, 4, true, true) - CodebookBits.LayerBits(96, 64, 2, 4, true, false));
        Assert.Equal(7, CodebookBits.CeilLog2(96));
        Assert.Equal(7, CodebookBits.CeilLog2(128));
        Assert.Equal(8, CodebookBits.CeilLog2(129));

        // The layer reports the same accounting, and what it stores: a stored row order at 16 bits per row.
        using var idx = zeros([96, 64], ScalarType.Int64);
        using var cb = arange(4, ScalarType.Float32).reshape(1, 4);
        using var s = ones(4);
        using var order = randperm(96, generator: new Generator(1));
        using var layer = CodebookLayer.FromIndices(new LinearGeometry(64, 96, Bias: false), 2, 4, CodebookVariant.Scales, idx, cb, s, order, null);
        Assert.Equal(CodebookBits.LayerBits(96, 64, 2, 4, false, true), layer.AccountedBits);
        Assert.Equal(CodebookBits.LayerBits(96, 64, 2, 4, false, false) + 96 * 16, layer.WeightStorageBits);
    }

    /// <summary>"Initialisation", <c>--init gptq</c> (GPTVQ): on correlated inputs, assigning indices with GPTQ's error
    /// feedback over the codewords lowers the layer loss tr(E·H·Eᵀ) well below k-means with nearest codewords (0.85×
    /// is far outside the seed-to-seed spread of either), for both variants; indices stay in [0, K − 1].</summary>
    [Theory]
    [InlineData(CodebookVariant.Scales, 2)]
    [InlineData(CodebookVariant.Codebooks, 3)]
    public void GptqInitialisationLowersTheLayerLossBelowKmeans(CodebookVariant variant, int bits)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(21);
        var mix = randn([96, 96], generator: g).div(Math.Sqrt(96)).add(eye(96));
        var x = randn([1024, 96], generator: g).matmul(mix);
        var h = x.t().matmul(x).div(1024);
        h = h.add(eye(96).mul(0.01 * h.diagonal().mean().item<float>()));
        var w = randn([32, 96], generator: g).mul(0.05);
        using var kmeans = GroupedCodebook.Initialise(w, bits, 4, variant, CodebookInit.PlusPlus, 30, seed: 1);
        using var gptq = GroupedCodebook.Initialise(w, bits, 4, variant, CodebookInit.Gptq, 30, seed: 1, hessian: h);
        double lk = JointLearner.Loss(kmeans.Weight().detach(), w, h), lg = JointLearner.Loss(gptq.Weight().detach(), w, h);
        Assert.True(lg < 0.85 * lk, $"gptq init loss {lg:G4} vs k-means {lk:G4}");
        Assert.InRange(gptq.Indices.min().item<long>(), 0, gptq.K - 1);
        Assert.InRange(gptq.Indices.max().item<long>(), 0, gptq.K - 1);
        Assert.Throws<ArgumentException>(() => GroupedCodebook.Initialise(w, bits, 4, variant, CodebookInit.Gptq, 30, seed: 1));
    }

    [Theory]
    [InlineData(CodebookInit.PlusPlus, 2)]
    [InlineData(CodebookInit.Quantile, 3)]
    [InlineData(CodebookInit.PlusPlus, 4)]
    public void KMeansCodebookIsSortedAndEveryIndexIsTheNearestCodeword(CodebookInit init, int bits)
    {
        using var scope = NewDisposeScope();
        var x = randn([4000], generator: new Generator(5)).mul(0.1);
        var c = KMeans1D.Fit(x, 1 << bits, init, 500, seed: 9);   // run to convergence
        Assert.Equal(1L << bits, c.numel());
        Assert.True(c.narrow(0, 1, c.numel() - 1).sub(c.narrow(0, 0, c.numel() - 1)).ge(0).all().item<bool>(), "codebook not sorted");
        var k = KMeans1D.Assign(x, c);
        // Brute force: distance to every codeword.
        var nearest = x.unsqueeze(1).sub(c.unsqueeze(0)).abs().argmin(1);
        var dAssigned = x.sub(c.index_select(0, k)).abs();
        var dNearest = x.sub(c.index_select(0, nearest)).abs();
        Assert.True(dAssigned.sub(dNearest).abs().max().item<float>() <= 1e-7f, "an index is not the nearest codeword");
        // Lloyd fixed point after convergence: each centre is the mean of its members (1e-4 on values of scale 0.1: float32 sums of ~1000 values).
        for (int j = 0; j < c.numel(); j++)
        {
            var members = x.masked_select(k.eq(j));
            if (members.numel() > 0) Assert.True(Math.Abs(members.mean().item<float>() - c[j].item<float>()) < 1e-4, $"centre {j} is not its members' mean");
        }
        // Same seed, same codebook.
        Assert.True(KMeans1D.Fit(x, 1 << bits, init, 500, seed: 9).eq(c).all().item<bool>());
    }

    [Theory]
    [InlineData(CodebookVariant.Scales)]
    [InlineData(CodebookVariant.Codebooks)]
    public void CodebookGradientIsThePerCodewordSumTimesTheGroupScale(CodebookVariant variant)
    {
        using var scope = NewDisposeScope();
        var w = randn([12, 10], generator: new Generator(2));
        using var cb = GroupedCodebook.Initialise(w, 2, 3, variant, CodebookInit.Quantile, 10, seed: 1);
        var g = randn([12, 10], generator: new Generator(3));
        cb.Weight().backward([g]);
        var grad = cb.Codebooks.grad!;
        var groups = arange(12L).mul(3).div(12, RoundingMode.floor);
        var k = cb.Indices;
        for (int code = 0; code < 4; code++)
        {
            if (variant == CodebookVariant.Scales)
            {
                // dL/dC[k] = Σ_{j: k_j = k} g_j·α_{g(j)}
                var alpha = cb.Scales!.detach().index_select(0, groups).unsqueeze(1).expand(12, 10);
                double expected = g.mul(alpha).masked_select(k.eq(code)).sum().item<float>();
                Assert.Equal(expected, grad[0, code].item<float>(), 4);
            }
            else
            {
                for (int gr = 0; gr < 3; gr++)
                {
                    var inGroup = groups.eq(gr).unsqueeze(1).expand(12, 10);
                    double expected = g.masked_select(k.eq(code).logical_and(inGroup)).sum().item<float>();
                    Assert.Equal(expected, grad[gr, code].item<float>(), 4);
                }
            }
        }
        if (variant == CodebookVariant.Scales)
        {
            // dL/dα_g = Σ_{j in g} g_j·C[k_j]
            var values = cb.Codebooks.detach()[0].take(k);
            for (int gr = 0; gr < 3; gr++)
            {
                double expected = g.mul(values).masked_select(groups.eq(gr).unsqueeze(1).expand(12, 10)).sum().item<float>();
                Assert.Equal(expected, cb.Scales!.grad![gr].item<float>(), 4);
            }
        }
    }

    [Fact]
    public void MappingGradientIsGTimesDeltaOrGOverDelta()
    {
        // One row, codebook {-1, -0.5, 0.5, 3} (gaps 0.5, 1, 2.5).
        var cw = tensor(new float[] { -1f, -0.5f, 0.5f, 3f }).reshape(1, 4);
        var k = tensor(new long[] { 2, 2, 0, 3, 1 }).reshape(1, 5);
        var g = tensor(new float[] { -2f, 2f, 1f, -1f, -4f }).reshape(1, 5);
        // Direction of the push: g < 0 → up, g > 0 → down; at the ends the only neighbour.
        float[] delta = [2.5f, 1f, 0.5f, 2.5f, 1f];
        var def = MappingGradient.Compute(g, k, cw, MappingGradientKind.Default).data<float>().ToArray();
        var prox = MappingGradient.Compute(g, k, cw, MappingGradientKind.Proximal).data<float>().ToArray();
        var gv = g.data<float>().ToArray();
        for (int j = 0; j < 5; j++)
        {
            Assert.Equal(gv[j] * delta[j], def[j], 5);
            Assert.Equal(gv[j] / delta[j], prox[j], 5);
        }
        // The default weighting grows with the gap, the proximal one shrinks: same g, wide gap vs narrow gap.
        Assert.True(Math.Abs(def[0]) > Math.Abs(gv[0]) && Math.Abs(prox[0]) < Math.Abs(gv[0]));
    }

    [Theory]
    [InlineData(MappingGradientKind.Proximal)]
    [InlineData(MappingGradientKind.Default)]
    public void IndicesStayInRangeUnderLargeSteps(MappingGradientKind kind)
    {
        using var scope = NewDisposeScope();
        var w = randn([16, 24], generator: new Generator(4));
        var x = randn([200, 24], generator: new Generator(6));
        var h = x.t().matmul(x).div(200);
        using var cb = GroupedCodebook.Initialise(w, 2, 2, CodebookVariant.Codebooks, CodebookInit.PlusPlus, 10, seed: 2);
        // An index learning rate of 3 codewords per step pushes latent indices against both ends.
        var result = JointLearner.Learn(cb, w, h, iterations: 30, indexLr: 3, codebookLr: 1e-2, kind);
        Assert.True(cb.Indices.min().item<long>() >= 0 && cb.Indices.max().item<long>() <= 3, "index outside [0, K-1]");
        Assert.True(cb.Latent.min().item<float>() >= -0.5 && cb.Latent.max().item<float>() <= 3.5, "latent index outside [-0.5, K-0.5]");
        Assert.True(result.Moves.MovesOne.Count == 30);
        Assert.True(result.FinalLoss <= result.InitialLoss);
    }

    [Fact]
    public void SortGroupingOrdersRowsByStatisticAndKmeansGroupingIsBalanced()
    {
        using var scope = NewDisposeScope();
        // Rows with four well separated spreads (×1, ×2, ×4, ×8; 200 weights each), interleaved.
        var spreads = tensor(Enumerable.Range(0, 32).Select(i => (float)(1 << (i % 4))).ToArray());
        var w = randn([32, 200], generator: new Generator(8)).mul(spreads.unsqueeze(1));
        var order = RowGrouping.Order(w, 4, GroupingMethod.Sort, RowStatistic.Std, 10);
        var std = w.std(1).data<float>().ToArray();
        for (int i = 1; i < order.Length; i++) Assert.True(std[order[i - 1]] <= std[order[i]]);
        var km = RowGrouping.Order(w, 4, GroupingMethod.Kmeans, RowStatistic.Std, 20);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (long)i), km.Order());
        // Each contiguous group of 8 holds the 8 rows of one spread.
        for (int g = 0; g < 4; g++)
            Assert.True(km.Skip(8 * g).Take(8).Select(r => r % 4).Distinct().Count() == 1, $"group {g} mixes spreads: order {string.Join(",", km)}");
    }
}

using Compressor.Plugins.Sparsity;
using Compressor.Layers.Structured;
using Compressor.Plugins.Sparsity.Algorithm;
using TorchSharp;
using static TorchSharp.torch;

namespace Sparsity.Tests;

/// <summary>WINA's optimality (plugins/Sparsity/README.md, "Activation sparsity"): with column-orthogonal W of unequal
/// column norms, ‖W(x − x_S)‖² = Σ_{i∉S} x_i²‖W_i‖², so WINA's top-k is the brute-force optimum over all C(12, 6) = 924
/// kept sets and never worse than TEAL.</summary>
public sealed class WinaTests
{
    private static double Error(Tensor w, Tensor x, Tensor keepMask) => matmul(w, x.mul(keepMask.neg().add(1))).square().sum().item<double>();

    [Fact]
    public void WinaIsOptimalOnColumnOrthogonalWeightsAndNeverWorseThanTeal()
    {
        const int n = 12, k = 6;
        var g = new Generator(21);
        var (q, _) = linalg.qr(randn([16, n], generator: g).to_type(ScalarType.Float64));
        var norms = rand([n], generator: g).to_type(ScalarType.Float64).mul(3).add(0.1);
        var w = q.mul(norms.unsqueeze(0));   // orthogonal columns with norms 0.1 … 3.1
        var scale = ActivationSparsifier.ColumnScale(w, wina: true)!;
        Assert.Equal(new long[] { n }, scale.shape);
        var subsets = Subsets(n, k).ToList();
        Assert.Equal(924, subsets.Count);
        int tealWorse = 0;
        for (int trial = 0; trial < 30; trial++)
        {
            var x = randn([n], generator: g).to_type(ScalarType.Float64);
            double wina = Error(w, x, TopKMaskedLinear.Mask(x.unsqueeze(0), scale, k).squeeze(0));
            double teal = Error(w, x, TopKMaskedLinear.Mask(x.unsqueeze(0), null, k).squeeze(0));
            double best = subsets.Min(s =>
            {
                var keep = new double[n];
                foreach (int i in s) keep[i] = 1;
                return Error(w, x, tensor(keep));
            });
            double analytic = x.mul(scale).mul(TopKMaskedLinear.Mask(x.unsqueeze(0), scale, k).squeeze(0).neg().add(1)).square().sum().item<double>();
            Assert.Equal(analytic, wina, 1e-9);   // Σ over dropped inputs of x_i²‖W_i‖²
            Assert.Equal(best, wina, 1e-9);
            Assert.True(wina <= teal + 1e-12, $"trial {trial}: WINA {wina} > TEAL {teal}");
            if (teal > wina + 1e-9) tealWorse++;
        }
        Assert.True(tealWorse > 0, "with unequal column norms TEAL must be strictly worse at least once");
    }

    private static IEnumerable<int[]> Subsets(int n, int k)
    {
        for (int bits = 0; bits < 1 << n; bits++)
            if (System.Numerics.BitOperations.PopCount((uint)bits) == k)
                yield return Enumerable.Range(0, n).Where(i => (bits >> i & 1) == 1).ToArray();
    }

    [Fact]
    public void GreedyAllocationReachesTheTargetAndBeatsUniformOnItsObjective()
    {
        var g = new Generator(5);
        // Layer a's inputs are heavy-tailed (cheap to sparsify), layer b's are flat (expensive).
        var inputs = new Dictionary<string, Tensor>
        {
            ["a"] = randn([256, 32], generator: g).pow(3),
            ["b"] = rand([256, 64], generator: g).add(1),
        };
        var weights = new Dictionary<string, Tensor> { ["a"] = randn([48, 32], generator: g), ["b"] = randn([16, 64], generator: g) };
        var greedy = ActivationSparsifier.Allocate(inputs, weights, wina: true, target: 0.5, greedy: true);
        double total = weights.Values.Sum(w => (double)w.numel());
        double average = weights.Sum(kv => greedy[kv.Key] * kv.Value.numel()) / total;
        Assert.Equal(0.5, average, 6);
        Assert.True(greedy["a"] > greedy["b"], $"heavy-tailed inputs should take more sparsity: a {greedy["a"]:F3}, b {greedy["b"]:F3}");
        double Cost(Dictionary<string, double> s) => weights.Keys.Sum(n =>
            ActivationSparsifier.RelativeError(inputs[n], weights[n], ActivationSparsifier.ColumnScale(weights[n], true), ActivationSparsifier.Keep(weights[n].shape[1], s[n])));
        var uniform = ActivationSparsifier.Allocate(inputs, weights, true, 0.5, greedy: false);
        Assert.True(Cost(greedy) < Cost(uniform), $"greedy {Cost(greedy):G4} vs uniform {Cost(uniform):G4}");
    }
}

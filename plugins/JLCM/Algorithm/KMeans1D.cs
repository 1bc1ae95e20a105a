using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Seeded 1-D k-means (Lloyd) returning K sorted centres ([RECON] README "Initialisation"). Assignment uses
/// the midpoints of the sorted centres (bucketize), so every value goes to its nearest centre in O(n log K); an empty
/// cluster keeps its previous centre.</summary>
public static class KMeans1D
{
    /// <summary>K sorted centres of <paramref name="values"/> (any shape, float32), each value counting with its
    /// <paramref name="weights"/> (same shape, ≥ 0; null: all 1) in the seeding (D²·weight) and the centre updates
    /// (weighted means): the Hessian-weighted k-means of GPTVQ when the weights are GPTQ's per-column importances.</summary>
    public static Tensor Fit(Tensor values, int k, CodebookInit init, int iterations, long seed, Tensor? weights = null)
    {
        using var scope = NewDisposeScope();
        var x = values.detach().flatten().to_type(ScalarType.Float32);
        if (x.numel() == 0) throw new ArgumentException("k-means on an empty tensor");
        var wt = weights?.detach().flatten().to_type(ScalarType.Float32);
        var centres = init == CodebookInit.Quantile ? QuantileInit(x, k) : PlusPlusInit(x, k, seed, wt);
        centres = centres.sort().Values;
        for (int it = 0; it < iterations; it++)
        {
            var assign = Assign(x, centres);
            var sums = zeros(k, device: x.device).index_add(0, assign, wt is null ? x : x.mul(wt), 1);
            var counts = wt is null ? bincount(assign, minlength: k).to_type(ScalarType.Float32) : zeros(k, device: x.device).index_add(0, assign, wt, 1);
            var updated = where(counts.gt(0), sums.div(counts.clamp_min(1)), centres).sort().Values;
            bool converged = updated.sub(centres).abs().max().item<float>() <= 1e-7f * (1 + centres.abs().max().item<float>());
            centres = updated;
            if (converged) break;
        }
        return centres.MoveToOuterDisposeScope();
    }

    /// <summary>The index of the nearest of the sorted <paramref name="sortedCentres"/> for every value (int64, same shape).</summary>
    public static Tensor Assign(Tensor values, Tensor sortedCentres)
    {
        using var scope = NewDisposeScope();
        if (sortedCentres.numel() == 1) return zeros(values.shape, ScalarType.Int64, device: values.device).MoveToOuterDisposeScope();
        var mids = sortedCentres.narrow(-1, 1, sortedCentres.shape[^1] - 1).add(sortedCentres.narrow(-1, 0, sortedCentres.shape[^1] - 1)).mul(0.5);
        return bucketize(values.contiguous(), mids.contiguous()).MoveToOuterDisposeScope();
    }

    private static Tensor QuantileInit(Tensor x, int k)
    {
        var sorted = x.sort().Values;
        long n = sorted.numel();
        var positions = arange(k, ScalarType.Float32, device: x.device).add(0.5).div(k).mul(n - 1).round().to_type(ScalarType.Int64);
        return sorted.index_select(0, positions);
    }

    /// <summary>D² seeding draws from a seeded CPU generator, so it runs on the CPU (on at most 65,536 values, once per
    /// layer): the same seed gives the same centres on every device. The centres go back to the values' device.</summary>
    private static Tensor PlusPlusInit(Tensor values, int k, long seed, Tensor? importanceWeights)
    {
        var x = values.cpu();
        var weights = importanceWeights?.cpu();
        var g = new Generator((ulong)seed);
        // Sample at most 65,536 values: D² seeding on a subsample is the usual practice and keeps it O(K·n_s).
        var sample = x.numel() > 65536 ? randperm(x.numel(), generator: g, device: CPU).narrow(0, 0, 65536) : null;
        var pool = sample is null ? x : x.index_select(0, sample);
        var importance = weights is null ? null : sample is null ? weights : weights.index_select(0, sample);
        var chosen = new List<Tensor> { pool[randint(0, pool.numel(), [1], generator: g, device: CPU)] };
        var d2 = pool.sub(chosen[0]).square();
        for (int i = 1; i < k; i++)
        {
            var p = importance is null ? d2 : d2.mul(importance);
            double total = p.sum().item<float>();
            Tensor next;
            if (total <= 0) next = chosen[^1];   // fewer distinct values than K: duplicate centres
            else next = pool[multinomial(p.div(total), 1, generator: g)];
            chosen.Add(next);
            d2 = minimum(d2, pool.sub(next).square());
        }
        return cat(chosen.Select(c => c.reshape(1)).ToList(), 0).to(values.device);
    }
}

using Compressor.Layers.Packing;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Groups the rows (output neurons) of a weight [O, I] into G contiguous groups after a re-ordering
/// ([RECON] README "Grouping and re-ordering"). Returns the permutation as "stored row i is original row order[i]";
/// after it, row i belongs to group ⌊i·G/O⌋ (<see cref="CodebookBits.GroupOf"/>), so group membership costs no
/// bits.</summary>
public static class RowGrouping
{
    /// <summary>Number of quantiles in the k-means row feature.</summary>
    public const int QuantileFeatures = 16;

    /// <summary>The re-ordering of the rows of <paramref name="weight"/> [O, I] into <paramref name="groups"/> groups.</summary>
    public static long[] Order(Tensor weight, int groups, GroupingMethod method, RowStatistic statistic, int kmeansIterations)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach().to_type(ScalarType.Float32);
        long rows = w.shape[0];
        if (groups <= 1 || rows <= 1) return Enumerable.Range(0, (int)rows).Select(i => (long)i).ToArray();
        var key = statistic == RowStatistic.Std ? w.std(1) : w.abs().amax([1L]);
        if (method == GroupingMethod.Sort) return key.sort(0, false, true).Indices.cpu().data<long>().ToArray();
        return BalancedKmeans(w, groups, key, kmeansIterations);
    }

    /// <summary>Per-row features: <see cref="QuantileFeatures"/> quantiles of the centred row.</summary>
    public static Tensor QuantileVectors(Tensor w)
    {
        var centred = w.sub(w.mean([1L], keepdim: true)).sort(1).Values;
        long cols = w.shape[1];
        var positions = arange(QuantileFeatures, ScalarType.Float32, device: w.device).add(0.5).div(QuantileFeatures).mul(cols - 1).round().to_type(ScalarType.Int64);
        return centred.index_select(1, positions);
    }

    /// <summary>Lloyd k-means with G centres (initialised at the sort grouping's group means) on the quantile vectors, then an equal-size assignment (rows and
    /// clusters paired greedily by increasing distance, each cluster filled to the size of its contiguous group);
    /// clusters are ordered by the mean <paramref name="key"/> of their members so that neighbouring groups are similar.</summary>
    private static long[] BalancedKmeans(Tensor w, int groups, Tensor key, int iterations)
    {
        long rows = w.shape[0];
        var f = QuantileVectors(w);
        // Initial centres: the mean feature of each group of the sort-by-key grouping (deterministic, spread out).
        var sortOrder = key.sort(0, false, true).Indices;
        var position = zeros(rows, ScalarType.Int64, device: w.device).index_put_(arange(rows, ScalarType.Int64, device: w.device).mul(groups).div(rows, RoundingMode.floor), sortOrder);
        var centres = zeros(groups, f.shape[1], device: f.device).index_add(0, position, f, 1).div(bincount(position, minlength: groups).to_type(ScalarType.Float32).unsqueeze(1));
        for (int it = 0; it < iterations; it++)
        {
            var assign = cdist(f, centres).argmin(1);
            var sums = zeros_like(centres).index_add(0, assign, f, 1);
            var counts = bincount(assign, minlength: groups).to_type(ScalarType.Float32).unsqueeze(1);
            centres = where(counts.gt(0), sums.div(counts.clamp_min(1)), centres);
        }
        // Order the clusters by the mean key of their (unbalanced) members, so that neighbouring groups are similar;
        // the cluster at rank j gets the capacity of contiguous group j.
        var keys = key.cpu().data<float>().ToArray();
        var free = cdist(f, centres).argmin(1).cpu().data<long>().ToArray();
        var clusterKey = Enumerable.Range(0, groups).Select(c => Enumerable.Range(0, (int)rows).Where(r => free[r] == c).Select(r => (double)keys[r]).DefaultIfEmpty(double.MaxValue).Average()).ToArray();
        var rank = Enumerable.Range(0, groups).OrderBy(c => clusterKey[c]).ToArray();
        var capacity = new long[groups];
        for (long r = 0; r < rows; r++) capacity[rank[CodebookBits.GroupOf(r, rows, groups)]]++;
        var pairs = cdist(f, centres).flatten().sort(0, false, true).Indices.cpu().data<long>().ToArray();
        var cluster = new int[rows];
        Array.Fill(cluster, -1);
        var filled = new long[groups];
        foreach (long p in pairs)
        {
            long r = p / groups;
            int c = (int)(p % groups);
            if (cluster[r] >= 0 || filled[c] >= capacity[c]) continue;
            cluster[r] = c;
            filled[c]++;
        }
        return rank.SelectMany(c => Enumerable.Range(0, (int)rows).Where(r => cluster[r] == c).OrderBy(r => keys[r]).Select(r => (long)r)).ToArray();
    }
}

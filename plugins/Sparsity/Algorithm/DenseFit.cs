using Compressor.Layers.Structured;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Structured layers fitted to a trained dense weight W [M, N] in the least-squares (Frobenius) sense:
/// <list type="bullet">
/// <item>LowRank: the truncated SVD (Eckart–Young), lr1 = √S_r V_rᵀ, lr2 = U_r √S_r; the error is the tail singular values;</item>
/// <item>BlockDense: lr·BD(W1) restricted to the input columns of block c is lr[:, rows_c]·W1[c], so the problem splits
/// into B independent rank-(r/B) approximations of the column blocks W[:, cols_c], each solved by its SVD;</item>
/// <item>BlockShuffle: the entry (output block j, input block c) of P_out·BD(W2)·P_mid·BD(W1) is Σ_a W2[j][:, (c·q+a)/B]·W1[c][a, :]
/// over the stage-1 rows a with (c·q + a) mod B = j; each stage-1 row and stage-2 column serves exactly one (j, c) pair,
/// so the fit splits into B² independent low-rank approximations of the sub-blocks W[rows t·B+j, cols of c], each
/// solved by its SVD (the Monarch projection).</item>
/// </list>
/// All three are exact optima, so they are the best start a from-dense structure can have before recovery training.</summary>
public static class DenseFit
{
    /// <summary>The structured layer of <paramref name="sizes"/> nearest to <paramref name="weight"/> [M, N].</summary>
    public static StructuredLinear Fit(StructureSizes sizes, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach().to_type(ScalarType.Float32);   // on the weight's device: the fits run there
        long m = w.shape[0], n = w.shape[1];
        var b = bias?.detach().to_type(ScalarType.Float32);
        switch (sizes.Structure)
        {
            case Structure.LowRank:
            {
                var (v, u) = Split(w, sizes.Rank);
                return LowRankLinear.FromFactors(v, u, b);
            }
            case Structure.BlockDense:
            {
                long bl = sizes.Blocks, r = sizes.Rank, rb = r / bl, nb = n / bl;
                var w1 = zeros(bl, rb, nb, device: w.device);
                var lr = zeros(m, r, device: w.device);
                for (long c = 0; c < bl; c++)
                {
                    var (v, u) = Split(w.narrow(1, c * nb, nb), rb);
                    w1[c].narrow(0, 0, v.shape[0]).copy_(v);
                    lr.narrow(1, c * rb, u.shape[1]).copy_(u);
                }
                return BlockDenseLinear.FromFactors(w1, lr, b);
            }
            case Structure.BlockShuffle:
            {
                long bl = sizes.Blocks, q = Math.Min(n, m) / bl, nb = n / bl, mb = m / bl;
                var w1 = zeros(bl, q, nb, device: w.device);
                var w2 = zeros(bl, mb, q, device: w.device);
                var outRows = new long[bl][];
                for (long j = 0; j < bl; j++) outRows[j] = Enumerable.Range(0, (int)mb).Select(t => t * bl + j).ToArray();
                for (long c = 0; c < bl; c++)
                    for (long j = 0; j < bl; j++)
                    {
                        // Stage-1 rows a of block c whose z entry c·q + a lands in stage-2 block j, at stage-2 column (c·q + a)/B.
                        var rows = Enumerable.Range(0, (int)q).Select(a => (long)a).Where(a => (c * q + a) % bl == j).ToArray();
                        if (rows.Length == 0) continue;
                        var sub = w.index_select(0, tensor(outRows[j], device: w.device)).narrow(1, c * nb, nb);   // [M/B, N/B]
                        var (v, u) = Split(sub, rows.Length);
                        for (int k = 0; k < rows.Length; k++)
                        {
                            if (k >= v.shape[0]) break;
                            long a = rows[k], col = (c * q + a) / bl;
                            w1[c][a].copy_(v[k]);
                            w2[j].select(1, col).copy_(u.select(1, k));
                        }
                    }
                return BlockShuffleLinear.FromBlocks(w1, w2, b);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(sizes), sizes.Structure, "no structured form");
        }
    }

    /// <summary>The best rank-k factors of <paramref name="a"/> [p, s]: V [min(k, rank), s] = √S Vᵀ and U [p, ·] = U √S
    /// (k larger than min(p, s) is capped; missing factors stay zero at the caller).</summary>
    public static (Tensor V, Tensor U) Split(Tensor a, long k)
    {
        var (u, s, vh) = linalg.svd(a, fullMatrices: false);
        long kk = Math.Min(k, s.shape[0]);
        var root = s.narrow(0, 0, kk).sqrt();
        return (vh.narrow(0, 0, kk).mul(root.unsqueeze(1)), u.narrow(1, 0, kk).mul(root.unsqueeze(0)));
    }
}

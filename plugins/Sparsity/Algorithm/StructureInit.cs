using Compressor.Layers.Structured;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>The reference from-scratch initialisations of StructuredFFN (README "Initialisation"): LowRank from the SVD
/// of a dense N(0, 0.02²) matrix, lr1 = √S_r V_rᵀ, lr2 = U_r √S_r; BlockShuffle and BlockDense with every block (and
/// BlockDense's dense stage) replaced by the semi-orthogonal U Vᵀ of its own SVD. Biases start at zero.</summary>
public static class StructureInit
{
    /// <summary>The standard deviation of the base "fixed" init.</summary>
    public const double BaseStd = 0.02;

    /// <summary>A fresh structured layer of <paramref name="sizes"/> for an N → M linear, drawn with <paramref name="generator"/> (a CPU
    /// generator: drawn and factored on the CPU, so a seed gives the same layer on every device) and placed on <paramref name="device"/>.</summary>
    public static StructuredLinear FromScratch(StructureSizes sizes, long n, long m, bool bias, Generator generator, Device device)
    {
        using var scope = NewDisposeScope();
        Tensor? b = bias ? zeros(m, device: device) : null;
        switch (sizes.Structure)
        {
            case Structure.LowRank:
            {
                var w0 = randn([m, n], generator: generator, device: CPU).mul(BaseStd);
                var (u, s, vh) = linalg.svd(w0, fullMatrices: false);
                long r = sizes.Rank;
                var root = s.narrow(0, 0, r).sqrt();
                return LowRankLinear.FromFactors(vh.narrow(0, 0, r).mul(root.unsqueeze(1)).to(device), u.narrow(1, 0, r).mul(root.unsqueeze(0)).to(device), b);
            }
            case Structure.BlockShuffle:
            {
                long bl = sizes.Blocks, q = Math.Min(n, m) / bl;
                return BlockShuffleLinear.FromBlocks(Orthogonal([bl, q, n / bl], generator).to(device), Orthogonal([bl, m / bl, q], generator).to(device), b);
            }
            case Structure.BlockDense:
            {
                long bl = sizes.Blocks, r = sizes.Rank;
                return BlockDenseLinear.FromFactors(Orthogonal([bl, r / bl, n / bl], generator).to(device), Orthogonal([1, m, r], generator).squeeze(0).to(device), b);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(sizes), sizes.Structure, "no structured form");
        }
    }

    /// <summary>Matrices [count, rows, cols] each equal to U Vᵀ of the SVD of a Gaussian draw: semi-orthogonal, all
    /// singular values 1.</summary>
    public static Tensor Orthogonal(long[] shape, Generator generator)
    {
        using var scope = NewDisposeScope();
        var g = randn(shape, generator: generator, device: CPU).mul(BaseStd);
        var (u, _, vh) = linalg.svd(g, fullMatrices: false);
        return matmul(u, vh).MoveToOuterDisposeScope();
    }

    /// <summary>The from-scratch SGT guide: the dense product of the factors (lr2·lr1, lr·BD(W1), the exact
    /// BlockShuffle matrix), or for BlockShuffle with <paramref name="blockShuffleQuirk"/> the reference code's
    /// unshuffled BD(W2)·BD(W1).</summary>
    public static Tensor InitialGuide(StructuredLinear layer, bool blockShuffleQuirk) =>
        blockShuffleQuirk && layer is BlockShuffleLinear bs ? BlockShuffleQuirkGuide(bs) : layer.DenseWeight();

    /// <summary>The reference code's BlockShuffle guide init: BD(W2)·BD(W1) without the shuffles, i.e. the
    /// block-diagonal [M, N] matrix of blocks W2[c]·W1[c].</summary>
    public static Tensor BlockShuffleQuirkGuide(BlockShuffleLinear layer)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var blocks = matmul(layer.W2, layer.W1);   // [B, M/B, N/B]
        var list = Enumerable.Range(0, (int)layer.Blocks).Select(c => blocks[c]).ToArray();
        return block_diag(list).MoveToOuterDisposeScope();
    }
}

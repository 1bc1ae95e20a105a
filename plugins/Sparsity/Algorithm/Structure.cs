namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Which structured parameterization replaces the selected linears.</summary>
public enum Structure
{
    /// <summary>Keep the linears dense: with <see cref="SparsityOptions.ActivationSparsity"/>, or with
    /// <see cref="SparsityOptions.FromScratch"/> as the dense baseline of an equal-step comparison.</summary>
    None,
    /// <summary>LowRank(r): two factors.</summary>
    LowRank,
    /// <summary>BlockShuffle(B): two block-diagonal stages with a stride shuffle (Monarch-like).</summary>
    BlockShuffle,
    /// <summary>BlockDense(r, B): a block-diagonal stage then a dense one.</summary>
    BlockDense,
}

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>What happens to the row permutation grouping implies.</summary>
public enum PermutationMode
{
    /// <summary>Fold it into the layer's rows and bias and its consumer's input columns where that provably leaves the
    /// outputs unchanged; otherwise store it explicitly (and count it).</summary>
    Fold,
    /// <summary>Always store it explicitly.</summary>
    Explicit,
    /// <summary>Do not re-order rows: groups are runs of the original rows (no permutation cost, weaker groups).</summary>
    None,
}

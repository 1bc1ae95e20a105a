namespace Compressor.Layers.Codebook;

/// <summary>Grouped-codebook weights: every weight is a b-bit index into a sorted codebook of K = 2^b fp16 codewords;
/// the rows are cut into G contiguous groups (stored row r is in group ⌊r·G/rows⌋), which scale one shared codebook
/// or own one each.</summary>
/// <param name="Bits">Bits per index b, 1..8.</param>
/// <param name="Groups">Row groups G, 1..rows.</param>
/// <param name="Variant">A shared codebook with a scale per group, or a codebook per group.</param>
/// <param name="Permuted">Whether the rows were reordered and the permutation stored (<c>row_order</c>).</param>
public sealed record CodebookFormat(int Bits, long Groups, CodebookVariant Variant, bool Permuted)
{
    /// <summary>How the indices are packed: densely, b bits each (new layers, the default), or in byte-aligned containers
    /// (configs of version 1, upgraded to say so).</summary>
    public IndexPacking Packing { get; init; } = IndexPacking.Dense;
}

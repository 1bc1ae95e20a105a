namespace Compressor.Layers.Codebook;

/// <summary>Grouped-codebook weights: every weight is a b-bit index into a sorted codebook of K = 2^b fp16 codewords;
/// the rows are cut into G contiguous groups (stored row r is in group ⌊r·G/rows⌋), which scale one shared codebook
/// or own one each.</summary>
/// <param name="Bits">Bits per index b, 1..8 (stored in 2-, 4- or 8-bit containers).</param>
/// <param name="Groups">Row groups G, 1..rows.</param>
/// <param name="Variant">A shared codebook with a scale per group, or a codebook per group.</param>
/// <param name="Permuted">Whether the rows were reordered and the permutation stored (<c>row_order</c>).</param>
public sealed record CodebookFormat(int Bits, long Groups, CodebookVariant Variant, bool Permuted);

namespace Compressor.Layers.Structured;

/// <summary>A block-diagonal stage to an inner width r followed by a dense r → out stage.</summary>
/// <param name="Rank">The inner width r; the block count divides it.</param>
/// <param name="Blocks">The block count B; it divides in and r.</param>
/// <param name="PreMerged">Export the dense product instead of the factors (<see cref="StructuredLinear.PreMerged"/>).</param>
public sealed record BlockDenseFormat(long Rank, long Blocks, bool PreMerged = false);

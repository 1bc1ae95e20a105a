namespace Compressor.Layers.Structured;

/// <summary>Two block-diagonal stages with a shuffle between them (Monarch-style).</summary>
/// <param name="Blocks">The block count B; it divides both in and out.</param>
/// <param name="PreMerged">Export the dense product instead of the factors (<see cref="StructuredLinear.PreMerged"/>).</param>
public sealed record BlockShuffleFormat(long Blocks, bool PreMerged = false);

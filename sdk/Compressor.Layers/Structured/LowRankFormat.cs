namespace Compressor.Layers.Structured;

/// <summary>A low-rank factorisation W = lr2·lr1 of rank r.</summary>
/// <param name="Rank">The rank r, 1..min(in, out).</param>
/// <param name="PreMerged">Export the dense product instead of the factors (<see cref="StructuredLinear.PreMerged"/>).</param>
public sealed record LowRankFormat(long Rank, bool PreMerged = false);

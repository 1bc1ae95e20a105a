namespace Compressor.Host.Search;

/// <summary>One treatment of one layer as the sensitivity analysis found it (search.json <c>sensitivity[]</c>).</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Treatment">The treatment id.</param>
/// <param name="Bits">Storage bits of the treated weight (codes, scales, zero points, codebooks, factors).</param>
/// <param name="Damage">The additive damage of treating only this layer (see <see cref="InProcessEvaluator"/>):
/// measured, or the second-order estimate.</param>
/// <param name="Metric">The keep metric with only this layer treated (measured only; null for an estimate).</param>
/// <param name="Source"><c>measured</c> or <c>fisher</c>.</param>
/// <param name="Seconds">How long the trial took.</param>
public sealed record LayerTrial(string Layer, string Treatment, long Bits, double Damage, double? Metric, string Source, double Seconds);

namespace Compressor.Engine.Evaluation;

/// <summary>How much faster a model ran than its reference, measured side by side: each timed run of the model is
/// followed by a run of the reference on the same batch, so both see the same machine load, and each pair gives
/// one ratio reference/model (&gt; 1: faster).</summary>
/// <param name="Median">The median ratio.</param>
/// <param name="P10">The 10th percentile of the ratios (nearest rank).</param>
/// <param name="P90">The 90th percentile.</param>
/// <param name="Pairs">How many pairs were timed.</param>
public sealed record SpeedUp(double Median, double P10, double P90, int Pairs);

namespace Compressor.Engine.Evaluation;

/// <summary>Wall time of repeated runs of one batch on ONNX Runtime.</summary>
/// <param name="MedianMs">Median over the timed runs, in milliseconds.</param>
/// <param name="P90Ms">90th percentile (nearest rank) over the timed runs, in milliseconds.</param>
/// <param name="Runs">Timed runs.</param>
/// <param name="WarmupRuns">Untimed runs before them.</param>
/// <param name="BatchSize">Samples in the batch.</param>
/// <param name="IntraOpThreads">ORT intra-op threads of the session.</param>
public sealed record LatencyResult(double MedianMs, double P90Ms, int Runs, int WarmupRuns, int BatchSize, int IntraOpThreads)
{
    /// <summary>Every timed run in milliseconds, in the order run (with a reference, run <c>i</c> of the model and run
    /// <c>i</c> of the reference were taken back to back: <see cref="LatencyBenchmark.MeasurePaired"/>).</summary>
    public IReadOnlyList<double> TimesMs { get; init; } = [];
}

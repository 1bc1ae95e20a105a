namespace Compressor.Engine.Evaluation;

/// <summary>Wall time of repeated runs of one batch on ONNX Runtime.</summary>
/// <param name="MedianMs">Median over the timed runs, in milliseconds.</param>
/// <param name="P90Ms">90th percentile (nearest rank) over the timed runs, in milliseconds.</param>
/// <param name="Runs">Timed runs.</param>
/// <param name="WarmupRuns">Untimed runs before them.</param>
/// <param name="BatchSize">Samples in the batch.</param>
/// <param name="IntraOpThreads">ORT intra-op threads of the session.</param>
public sealed record LatencyResult(double MedianMs, double P90Ms, int Runs, int WarmupRuns, int BatchSize, int IntraOpThreads);

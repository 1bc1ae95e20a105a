namespace Compressor.Host.Results;

/// <summary><c>evaluation.runtime</c>: how ONNX Runtime was set up for the measurements.</summary>
public sealed record EvaluationRuntime(string OrtVersion, string OptimizationLevel, int IntraOpThreads, int BatchSize, int Runs, int WarmupRuns,
    string PeakMemoryMethod);

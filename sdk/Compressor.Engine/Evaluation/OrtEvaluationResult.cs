using Compressor.Sdk.Reports;

namespace Compressor.Engine.Evaluation;

/// <summary>What <see cref="OrtEvaluation.Run"/> measured.</summary>
/// <param name="Metrics">Named values (<see cref="EvaluationMetricNames"/>), each with the reference model's value in
/// <see cref="Metric.Reference"/> when a reference was given; fidelity metrics compare the model to the reference.</param>
/// <param name="Dataset">The evaluation set's name, e.g. <c>digits/test</c>.</param>
/// <param name="Samples">Samples evaluated.</param>
/// <param name="OrtVersion">The ONNX Runtime version.</param>
/// <param name="OptimizationLevel">The ORT graph optimisation level of every session.</param>
/// <param name="Latency">Latency of the model.</param>
/// <param name="ReferenceLatency">Latency of the reference, measured in the same run, or null.</param>
/// <param name="PeakMemoryMethod">How peak memory was measured (see <see cref="PeakMemory"/>).</param>
public sealed record OrtEvaluationResult(IReadOnlyList<Metric> Metrics, string Dataset, long Samples, string OrtVersion, string OptimizationLevel,
    LatencyResult Latency, LatencyResult? ReferenceLatency, string PeakMemoryMethod)
{
    /// <summary>The reference's latency over the model's, per pair of interleaved runs, or null without a reference.</summary>
    public SpeedUp? SpeedUp { get; init; }

    /// <summary>The metric named <paramref name="name"/>, or null.</summary>
    public Metric? this[string name] => Metrics.FirstOrDefault(m => m.Name == name);
}

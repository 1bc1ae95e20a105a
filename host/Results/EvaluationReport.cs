using Compressor.Engine.Evaluation;
using Newtonsoft.Json;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>evaluation</c>: how the ORT metrics of a run were measured (the metrics themselves are
/// the report's <c>metrics[]</c>).</summary>
/// <param name="Model">The evaluated model.</param>
/// <param name="Reference">The reference model, or how it was made, or null.</param>
/// <param name="Dataset">The evaluation split.</param>
/// <param name="Samples">Samples evaluated.</param>
/// <param name="Runtime">The ORT setup.</param>
/// <param name="AvailableSamples">Samples in the evaluation split (more than <paramref name="Samples"/> under <c>--eval-limit</c>).</param>
/// <param name="Limit">The <c>--eval-limit</c>, or null.</param>
/// <param name="SpeedUp">The model's speed-up over the reference with its spread; left out without a reference.</param>
/// <param name="ReferenceBytes">Bytes of the reference ONNX model on disk; left out when unknown.</param>
public sealed record EvaluationReport(string? Model, string? Reference, string Dataset, long Samples, EvaluationRuntime Runtime,
    long AvailableSamples = 0,
    long? Limit = null,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] SpeedUp? SpeedUp = null,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] long? ReferenceBytes = null)
{
    /// <summary>The report form of <paramref name="result"/>, naming the model and the reference as given.</summary>
    public static EvaluationReport Of(OrtEvaluationResult result, string? model, string? reference, long? limit = null, long? referenceBytes = null) => new(
        model, reference, result.Dataset, result.Samples,
        new EvaluationRuntime(result.OrtVersion, result.OptimizationLevel, result.Latency.IntraOpThreads, result.Latency.BatchSize, result.Latency.Runs,
            result.Latency.WarmupRuns, result.PeakMemoryMethod),
        result.AvailableSamples, limit, SpeedUp.Of(result.Latency, result.ReferenceLatency), referenceBytes);

    /// <summary>"359 samples", or "100 of 359 samples (--eval-limit 100)".</summary>
    public string SamplesText() => Samples < AvailableSamples
        ? $"{Samples} of {AvailableSamples} samples (--eval-limit {Limit})"
        : $"{Samples} samples";
}

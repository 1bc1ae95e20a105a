using Compressor.Engine.Evaluation;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>evaluation</c>: how the ORT metrics of a run were measured (the metrics themselves are
/// the report's <c>metrics[]</c>).</summary>
/// <param name="Model">The evaluated model.</param>
/// <param name="Reference">The reference model, or how it was made, or null.</param>
/// <param name="Dataset">The evaluation split.</param>
/// <param name="Samples">Samples evaluated.</param>
/// <param name="Runtime">The ORT setup.</param>
public sealed record EvaluationReport(string? Model, string? Reference, string Dataset, long Samples, EvaluationRuntime Runtime)
{
    /// <summary>The model's speed-up over the reference, timed side by side (null without a reference).</summary>
    public SpeedUpResult? SpeedUp { get; init; }

    /// <summary>The report form of <paramref name="result"/>, naming the model and the reference as given.</summary>
    public static EvaluationReport Of(OrtEvaluationResult result, string? model, string? reference) => new(
        model, reference, result.Dataset, result.Samples,
        new EvaluationRuntime(result.OrtVersion, result.OptimizationLevel, result.Latency.IntraOpThreads, result.Latency.BatchSize, result.Latency.Runs,
            result.Latency.WarmupRuns, result.PeakMemoryMethod))
    {
        SpeedUp = result.SpeedUp is { } s ? SpeedUpResult.Of(s) : null,
    };
}

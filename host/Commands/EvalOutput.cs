using Compressor.Engine.Evaluation;
using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary><c>compress eval --format json</c>: how the models were measured (as report.json's <c>evaluation</c>)
/// and the metrics, each with the reference's value.</summary>
public sealed record EvalOutput(int SchemaVersion, string? Model, string? Reference, string Dataset, long Samples, EvaluationRuntime Runtime,
    IReadOnlyList<MetricResult> Metrics)
{
    /// <summary>The model's speed-up over the reference, timed interleaved (null without a reference).</summary>
    public SpeedUpResult? SpeedUp { get; init; }

    /// <summary>The output for <paramref name="result"/>.</summary>
    public static EvalOutput Of(OrtEvaluationResult result, string model, string? reference)
    {
        var e = EvaluationReport.Of(result, model, reference);
        return new EvalOutput(JsonOutput.SchemaVersion, e.Model, e.Reference, e.Dataset, e.Samples, e.Runtime, [.. result.Metrics.Select(MetricResult.Of)])
        {
            SpeedUp = e.SpeedUp,
        };
    }
}

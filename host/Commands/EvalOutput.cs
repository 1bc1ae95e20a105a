using Compressor.Engine.Evaluation;
using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary><c>compress eval --format json</c>: how the models were measured (as report.json's <c>evaluation</c>)
/// and the metrics, each with the reference's value.</summary>
/// <param name="SchemaVersion">The JSON output's schema version.</param>
/// <param name="Model">The evaluated model.</param>
/// <param name="Reference">The reference model, or null.</param>
/// <param name="Dataset">The evaluation split.</param>
/// <param name="Samples">Samples evaluated.</param>
/// <param name="Runtime">The ORT setup.</param>
/// <param name="Metrics">The metrics.</param>
/// <param name="AvailableSamples">Samples in the split (more than <paramref name="Samples"/> under <c>--eval-limit</c>).</param>
/// <param name="SpeedUp">The model's speed-up over the reference with its spread; left out without a reference.</param>
public sealed record EvalOutput(int SchemaVersion, string? Model, string? Reference, string Dataset, long Samples, EvaluationRuntime Runtime,
    IReadOnlyList<MetricResult> Metrics, long AvailableSamples = 0,
    [property: Newtonsoft.Json.JsonProperty(NullValueHandling = Newtonsoft.Json.NullValueHandling.Ignore)] SpeedUp? SpeedUp = null)
{
    /// <summary>The output for <paramref name="result"/>.</summary>
    public static EvalOutput Of(OrtEvaluationResult result, string model, string? reference)
    {
        var e = EvaluationReport.Of(result, model, reference);
        return new EvalOutput(JsonOutput.SchemaVersion, e.Model, e.Reference, e.Dataset, e.Samples, e.Runtime, [.. result.Metrics.Select(MetricResult.Of)],
            e.AvailableSamples, e.SpeedUp);
    }
}

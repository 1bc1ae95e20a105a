using Compressor.Engine.Models;
using Compressor.Sdk.Reports;
using Newtonsoft.Json;

namespace Compressor.Host.Results;

/// <summary>report.json of <c>compress run</c> (docs/report-schema.md): tool, input, steps, seed, output sizes, the
/// ONNX verification gate, per-layer rows, metrics, series, timings, warnings and, with <c>--data</c>, how the
/// evaluation was measured. report.md and report.html are rendered from it.</summary>
/// <param name="SchemaVersion"><see cref="CurrentSchemaVersion"/>.</param>
/// <param name="Tool">The tool.</param>
/// <param name="Input">The input file and the loaded model's parameter count.</param>
/// <param name="Steps">The steps that ran.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Output">The checkpoint and the ONNX model.</param>
/// <param name="Verification">The gate's findings; null when no ONNX model was written.</param>
/// <param name="Layers">One row per compressed layer.</param>
/// <param name="Metrics">Plugin metrics and, with <c>--data</c>, ORT metrics.</param>
/// <param name="Series">Curves the plugins logged.</param>
/// <param name="Timings">Seconds per stage: <c>load</c>, <c>stepN:ID</c>, <c>onnx</c>, <c>total</c>.</param>
/// <param name="Warnings">What the run wants the user to know.</param>
/// <param name="Evaluation">How the ORT metrics were measured; left out without <c>--data</c>.</param>
/// <param name="Headline">The result in one line (size ratio, metric change, speed-up with its spread) and its numbers.</param>
/// <param name="Sizes">Where the bytes of the written file are: compressed layers, layers left in float32 (with what
/// would compress them), other tensors, overhead.</param>
public sealed record RunReport(
    int SchemaVersion,
    ToolInfo Tool,
    InputModel Input,
    IReadOnlyList<AppliedStep> Steps,
    int Seed,
    CheckpointOutput Output,
    OnnxVerification? Verification,
    IReadOnlyList<LayerResult> Layers,
    IReadOnlyList<MetricResult> Metrics,
    IReadOnlyList<SeriesResult> Series,
    IReadOnlyDictionary<string, double> Timings,
    IReadOnlyList<string> Warnings,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] EvaluationReport? Evaluation = null,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] Headline? Headline = null,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] SizeBreakdown? Sizes = null)
{
    /// <summary>The schema version of report.json and recipe.json (renaming or removing a field bumps it).</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The report of a run from what it collected: the plugins' (and the evaluation's) rows, metrics, series and
    /// warnings in <paramref name="report"/>, the float storage of its layers (<paramref name="storage"/>), and where
    /// the bytes are (<paramref name="sizes"/>); the headline is made from these.</summary>
    public static RunReport Of(RunRecipe recipe, long inputParameters, CheckpointOutput output, OnnxVerification? verification, ReportBuilder report,
        IReadOnlyDictionary<string, double> timings, EvaluationReport? evaluation,
        IReadOnlyDictionary<string, (int ValueBits, double StoredShare)>? storage = null, SizeBreakdown? sizes = null)
    {
        var input = InputModel.Of(recipe.Input, inputParameters);
        var metrics = report.Metrics.Select(MetricResult.Of).ToList();
        var layers = report.Layers.Select(r => LayerResult.Of(r, storage is not null && storage.TryGetValue(r.Name, out var s) ? s : null)).ToList();
        return new(CurrentSchemaVersion, recipe.Tool, input, recipe.Steps, recipe.Seed, output, verification, layers, metrics,
            [.. report.Series.Select(SeriesResult.Of)], timings, report.Warnings, evaluation, Results.Headline.Of(output, input, metrics, evaluation), sizes);
    }

    /// <summary>The metrics measured on ONNX Runtime over the evaluation split (those with a data set).</summary>
    public IEnumerable<MetricResult> EvaluatedMetrics() => Metrics.Where(m => m.Dataset is not null);
}

using Compressor.Sdk.Evaluation;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Commands;

/// <summary>The JSON form of an evaluation on ONNX Runtime (<c>compress eval --format json</c>, and report.json's
/// <c>evaluation</c> object): the metrics with their reference values, and how they were measured.</summary>
public static class EvaluationJson
{
    /// <summary>The evaluation object.</summary>
    public static JObject Build(OrtEvaluationResult result, string? model, string? reference) => new()
    {
        ["model"] = model,
        ["reference"] = reference,
        ["dataset"] = result.Dataset,
        ["samples"] = result.Samples,
        ["runtime"] = new JObject
        {
            ["ortVersion"] = result.OrtVersion,
            ["optimizationLevel"] = result.OptimizationLevel,
            ["intraOpThreads"] = result.Latency.IntraOpThreads,
            ["batchSize"] = result.Latency.BatchSize,
            ["runs"] = result.Latency.Runs,
            ["warmupRuns"] = result.Latency.WarmupRuns,
            ["peakMemoryMethod"] = result.PeakMemoryMethod,
        },
        ["metrics"] = new JArray(result.Metrics.Select(m => new JObject
        {
            ["name"] = m.Name, ["value"] = Num(m.Value), ["reference"] = m.Reference is { } r ? Num(r) : null, ["unit"] = m.Unit, ["dataset"] = m.Dataset,
        })),
    };

    private static JToken Num(double v) => double.IsFinite(v) ? new JValue(Math.Round(v, 6)) : JValue.CreateNull();
}

using Compressor.Sdk.Reports;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>Builds <c>report.json</c> (schema version 1): tool, input, steps, seed, output sizes (the checkpoint's, and
/// the ONNX model's under <c>output.onnx</c>), the ONNX verification gate, per-layer rows, metrics, series, timings
/// and warnings. Non-finite numbers (an exact layer's ∞ dB SQNR) are written as null.</summary>
public static class ReportJson
{
    /// <summary>The schema version.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The report of a run.</summary>
    public static JObject Build(JObject recipe, long inputParameters, JObject output, ReportBuilder report, JObject timings, JObject? verification = null)
    {
        var input = (JObject)recipe["input"]!.DeepClone();
        input["parameters"] = inputParameters;
        return new JObject
        {
            ["schemaVersion"] = SchemaVersion,
            ["tool"] = recipe["tool"]!.DeepClone(),
            ["input"] = input,
            ["steps"] = recipe["steps"]!.DeepClone(),
            ["seed"] = recipe["seed"]!.DeepClone(),
            ["output"] = output,
            ["verification"] = verification,
            ["layers"] = new JArray(report.Layers.Select(l => new JObject
            {
                ["name"] = l.Name, ["kind"] = l.Kind, ["shape"] = new JArray(l.Shape), ["bits"] = Num(l.Bits),
                ["sqnrDb"] = Num(l.SqnrDb), ["bytes"] = l.Bytes,
            })),
            ["metrics"] = new JArray(report.Metrics.Select(m => new JObject
            {
                ["name"] = m.Name, ["value"] = Num(m.Value), ["reference"] = m.Reference is { } r ? Num(r) : null,
                ["unit"] = m.Unit, ["dataset"] = m.Dataset,
            })),
            ["series"] = new JArray(report.Series.Select(s => new JObject
            {
                ["name"] = s.Name, ["xLabel"] = s.XLabel, ["yLabel"] = s.YLabel,
                ["x"] = new JArray(s.X.Select(Num)), ["y"] = new JArray(s.Y.Select(Num)),
            })),
            ["timings"] = timings,
            ["warnings"] = new JArray(report.Warnings),
        };
    }

    private static JToken Num(double v) => double.IsFinite(v) ? new JValue(Math.Round(v, 6)) : JValue.CreateNull();
}

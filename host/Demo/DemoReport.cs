using Compressor.Host.Pipeline;
using Compressor.Sdk.Evaluation;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Demo;

/// <summary>The demo's report.json (schema version 1, documented in docs/report-schema.md): the base model, the FP32
/// reference row, and one row per step with its status, sizes, bits per weight, ORT metrics against the FP32
/// reference, verification summary and the series its plugins logged.</summary>
public static class DemoReport
{
    /// <summary>The schema version.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The JSON report's file name.</summary>
    public const string JsonFile = "report.json";

    /// <summary>The HTML report's file name.</summary>
    public const string HtmlFile = "report.html";

    /// <summary>The metric that ranks steps for the data kind: accuracy on labelled images, cosine to the FP32
    /// outputs otherwise.</summary>
    public static string PrimaryMetric(IEnumerable<DemoStepResult> results) =>
        results.Where(r => r.Report is not null).SelectMany(r => (JArray)r.Report!["metrics"]!).Any(m => (string?)m["name"] == EvaluationMetricNames.Accuracy)
            ? EvaluationMetricNames.Accuracy : EvaluationMetricNames.Cosine;

    /// <summary>Builds the report.</summary>
    public static JObject Build(DemoPlan plan, DemoRequest request, string data, JObject baseInfo, IReadOnlyList<DemoStepResult> results, double seconds)
    {
        string outDir = Path.GetFullPath(request.OutputDirectory);
        var firstOk = results.FirstOrDefault(r => r.Status == DemoStepStatus.Ok);
        JObject? fp32 = null;
        if (firstOk is not null)
        {
            var references = new JObject();
            foreach (var m in ((JArray)firstOk.Report!["metrics"]!).OfType<JObject>())
                if (m["reference"] is { Type: JTokenType.Float or JTokenType.Integer } r && (string?)m["name"] is { } name) references[name] = r.DeepClone();
            fp32 = new JObject
            {
                ["title"] = "FP32 (uncompressed)",
                ["checkpointBytes"] = baseInfo["bytes"]?.DeepClone(),
                ["onnxBytes"] = firstOk.ReferenceOnnxBytes > 0 ? firstOk.ReferenceOnnxBytes : null,
                ["bitsPerWeight"] = 32,
                ["metrics"] = references,
            };
        }
        return new JObject
        {
            ["schemaVersion"] = SchemaVersion,
            ["kind"] = "demo",
            ["tool"] = RunPipeline.ToolInfo(),
            ["model"] = plan.Model,
            ["description"] = plan.Description,
            ["quick"] = request.Quick,
            ["seed"] = request.Seed,
            ["data"] = data.StartsWith("sentences:", StringComparison.Ordinal) ? "sentences:" + Path.GetRelativePath(outDir, data["sentences:".Length..].Split(',')[0]) + Tail(data) : data,
            ["base"] = baseInfo,
            ["primaryMetric"] = PrimaryMetric(results),
            ["fp32"] = fp32,
            ["steps"] = new JArray(results.Select(r => Step(r, outDir))),
            ["seconds"] = Math.Round(seconds, 2),
        };
    }

    private static string Tail(string spec) => spec.IndexOf(',') is var i and >= 0 ? spec[i..] : "";

    private static JObject Step(DemoStepResult r, string outDir)
    {
        var o = new JObject
        {
            ["name"] = r.Step.Name,
            ["title"] = r.Step.Title,
            ["status"] = r.Status.ToString().ToLowerInvariant(),
            ["reason"] = r.Reason,
            ["plugins"] = new JArray(r.Step.Recipe.Select(p => p.Plugin)),
            ["recipe"] = Path.Combine(DemoRunner.RecipesFolder, r.Step.Name + ".json"),
            ["seconds"] = Math.Round(r.Seconds, 2),
        };
        if (r.Status != DemoStepStatus.Ok || r.Report is null)
        {
            if (r.Status == DemoStepStatus.Skipped) o["recipe"] = null;
            return o;
        }
        var report = r.Report;
        var output = (JObject)report["output"]!;
        var onnx = output["onnx"] as JObject;
        var metrics = new JObject();
        var reference = new JObject();
        foreach (var m in ((JArray)report["metrics"]!).OfType<JObject>())
        {
            if ((string?)m["name"] is not { } name || m["dataset"]?.Type != JTokenType.String) continue;
            metrics[name] = m["value"]?.DeepClone();
            reference[name] = m["reference"]?.DeepClone();
        }
        o["outputDirectory"] = Path.GetRelativePath(outDir, r.OutputDirectory!);
        o["steps"] = report["steps"]!.DeepClone();
        o["bitsPerWeight"] = output["bitsPerWeight"]?.DeepClone();
        o["onnxBitsPerWeight"] = onnx?["bitsPerWeight"]?.DeepClone();
        o["checkpointBytes"] = output["bytesOnDisk"]?.DeepClone();
        o["theoreticalBytes"] = output["theoreticalBytes"]?.DeepClone();
        o["onnxBytes"] = onnx?["bytesOnDisk"]?.DeepClone();
        o["referenceOnnxBytes"] = r.ReferenceOnnxBytes > 0 ? r.ReferenceOnnxBytes : null;
        if (report["verification"] is JObject v)
            o["verification"] = new JObject
            {
                ["passed"] = v["passed"]?.DeepClone(),
                ["sqnrDb"] = v["sqnrDb"]?.DeepClone(),
                ["optimizedSqnrDb"] = v["optimized"]?["sqnrDb"]?.DeepClone(),
                ["fusedKernels"] = v["fusedKernels"]?.DeepClone(),
            };
        o["metrics"] = metrics;
        o["reference"] = reference;
        o["series"] = report["series"]!.DeepClone();
        o["warnings"] = report["warnings"]!.DeepClone();
        return o;
    }
}

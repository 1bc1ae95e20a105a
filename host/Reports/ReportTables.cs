using System.Globalization;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Reports;

/// <summary>The tables of a report for people, read from report.json: the run, output sizes, ONNX verification,
/// metrics (with the reference model's values), per-layer rows, timings and warnings.</summary>
public static class ReportTables
{
    /// <summary>The tables of <paramref name="report"/>, in reading order (empty sections are left out).</summary>
    public static IReadOnlyList<ReportTable> Build(JObject report)
    {
        var tables = new List<ReportTable>();
        var input = report["input"] as JObject;
        List<string[]> run =
        [
            ["tool", $"{report["tool"]?["name"]} {report["tool"]?["version"]} (SDK {report["tool"]?["sdkVersion"]})"],
            ["input", $"{input?["path"]}"],
            ["input size", $"{input?["bytes"]} bytes, {input?["parameters"]} parameters"],
            ["seed", $"{report["seed"]}"],
        ];
        foreach (var s in report["steps"] as JArray ?? [])
            run.Add(["step", $"{s["plugin"]} {s["version"]} {s["options"]?.ToString(Newtonsoft.Json.Formatting.None)}"]);
        tables.Add(new ReportTable("Run", ["", ""], run));

        if (report["output"] is JObject output)
        {
            List<string[]> rows =
            [
                ["checkpoint", $"{output["checkpoint"]}", $"{output["bytesOnDisk"]}", $"{output["theoreticalBytes"]}", Text(output["bitsPerWeight"])],
            ];
            if (output["onnx"] is JObject onnx)
                rows.Add([$"{onnx["file"]}", $"opset {onnx["opset"]}", $"{onnx["bytesOnDisk"]}", $"{onnx["theoreticalBytes"]}", Text(onnx["bitsPerWeight"])]);
            tables.Add(new ReportTable("Output", ["kind", "file", "bytes on disk", "theoretical bytes", "bits per compressed weight"], rows));
        }

        if (report["verification"] is JObject v)
            tables.Add(new ReportTable("ONNX verification", ["check", "result"],
            [
                ["passed", $"{v["passed"]}"],
                ["ONNX Runtime", $"{v["ortVersion"]}"],
                [$"parity at {v["optimizationLevel"]}", $"SQNR {Text(v["sqnrDb"])} dB, max |error| {Text(v["maxAbsError"])}"],
                [$"parity at {v["optimized"]?["optimizationLevel"]}", $"SQNR {Text(v["optimized"]?["sqnrDb"])} dB, max |error| {Text(v["optimized"]?["maxAbsError"])}"],
                ["fused kernels", string.Join(", ", (v["fusedKernels"] as JArray ?? []).Select(k => (string?)k))],
            ]));

        var metrics = report["metrics"] as JArray ?? [];
        if (metrics.Count > 0)
        {
            string? note = null;
            if (report["evaluation"]?["runtime"] is JObject rt)
                note = $"Measured on ONNX Runtime {rt["ortVersion"]} at {rt["optimizationLevel"]} with {rt["intraOpThreads"]} intra-op threads; latency of one batch of " +
                       $"{rt["batchSize"]} over {rt["runs"]} runs after {rt["warmupRuns"]} warm-up runs; peak memory by {rt["peakMemoryMethod"]} " +
                       "(peak resident memory added by creating the session and running one batch). The reference is the input model, measured in the same run.";
            tables.Add(new ReportTable("Metrics", ["metric", "value", "reference", "unit", "dataset"],
                metrics.Select(m => new[] { $"{m["name"]}", Text(m["value"]), Text(m["reference"]), $"{m["unit"]}", $"{m["dataset"]}" }).ToList(), note));
        }

        var layers = report["layers"] as JArray ?? [];
        if (layers.Count > 0)
            tables.Add(new ReportTable("Layers", ["layer", "kind", "shape", "bits/weight", "SQNR dB", "bytes"],
                layers.Select(l => new[]
                {
                    $"{l["name"]}", $"{l["kind"]}", string.Join("×", (l["shape"] as JArray ?? []).Select(x => (long)x)), Text(l["bits"]),
                    l["sqnrDb"]?.Type == JTokenType.Null ? "∞ (exact)" : Text(l["sqnrDb"]), $"{l["bytes"]}",
                }).ToList()));

        if (report["timings"] is JObject timings && timings.Count > 0)
            tables.Add(new ReportTable("Timings", ["stage", "seconds"], timings.Properties().Select(p => new[] { p.Name, Text(p.Value) }).ToList()));

        var warnings = report["warnings"] as JArray ?? [];
        if (warnings.Count > 0)
            tables.Add(new ReportTable("Warnings", ["warning"], warnings.Select(w => new[] { $"{w}" }).ToList()));
        return tables;
    }

    /// <summary>A JSON number in short invariant form, "-" for null.</summary>
    public static string Text(JToken? t) => t switch
    {
        null or { Type: JTokenType.Null or JTokenType.Undefined } => "-",
        { Type: JTokenType.Float or JTokenType.Integer } => ((double)t).ToString("G6", CultureInfo.InvariantCulture),
        _ => t.ToString(),
    };
}

using System.Globalization;
using Compressor.Sdk.Evaluation;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Demo;

/// <summary>The demo's comparison table, built from its report.json: one row for the FP32 model and one per step
/// (status, primary metric and its change from FP32, bits per weight, checkpoint and ONNX bytes, ORT median latency,
/// time). The console summary and report.html print the same rows.</summary>
public static class DemoTable
{
    /// <summary>The column headers for <paramref name="report"/>.</summary>
    public static string[] Headers(JObject report) =>
        ["STEP", "STATUS", Label((string?)report["primaryMetric"] ?? EvaluationMetricNames.Accuracy), "Δ VS FP32", "BITS/W", "CHECKPOINT BYTES", "ONNX BYTES", "ORT MEDIAN MS", "SECONDS"];

    /// <summary>The rows.</summary>
    public static List<string[]> Rows(JObject report)
    {
        string primary = (string?)report["primaryMetric"] ?? EvaluationMetricNames.Accuracy;
        var rows = new List<string[]>();
        double? fp32Value = null;
        if (report["fp32"] is JObject f)
        {
            fp32Value = Number(f["metrics"]?[primary]);
            rows.Add(["fp32", "reference", Metric(primary, fp32Value), "", "32", Bytes(f["checkpointBytes"]), Bytes(f["onnxBytes"]),
                Fixed(Number(f["metrics"]?[EvaluationMetricNames.LatencyMedianMs]), 3), ""]);
        }
        foreach (var s in (report["steps"] as JArray ?? []).OfType<JObject>())
        {
            string status = (string?)s["status"] ?? "";
            if (status != "ok")
            {
                rows.Add([(string)s["name"]!, $"{status}: {(string?)s["reason"]}", "", "", "", "", "", "", Fixed(Number(s["seconds"]), 1)]);
                continue;
            }
            double? value = Number(s["metrics"]?[primary]);
            string delta = value is { } v && fp32Value is { } b ? (primary == EvaluationMetricNames.Accuracy
                ? (100 * (v - b)).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pt"
                : (v - b).ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture)) : "";
            rows.Add([(string)s["name"]!, "ok", Metric(primary, value), delta, Fixed(Number(s["bitsPerWeight"]), 3), Bytes(s["checkpointBytes"]),
                Bytes(s["onnxBytes"]), Fixed(Number(s["metrics"]?[EvaluationMetricNames.LatencyMedianMs]), 3), Fixed(Number(s["seconds"]), 1)]);
        }
        return rows;
    }

    /// <summary>A metric's column label.</summary>
    public static string Label(string metric) => metric == EvaluationMetricNames.Accuracy ? "ACCURACY" : metric.ToUpperInvariant() + " VS FP32";

    private static string Metric(string name, double? v) =>
        v is null ? "" : name == EvaluationMetricNames.Accuracy ? v.Value.ToString("P2", CultureInfo.InvariantCulture) : v.Value.ToString("F4", CultureInfo.InvariantCulture);

    private static string Fixed(double? v, int digits) => v?.ToString("F" + digits, CultureInfo.InvariantCulture) ?? "";

    private static string Bytes(JToken? t) => Number(t) is { } v ? ((long)v).ToString("N0", CultureInfo.InvariantCulture) : "";

    internal static double? Number(JToken? t) => t is { Type: JTokenType.Float or JTokenType.Integer } ? (double)t : null;
}

using System.Globalization;
using Compressor.Engine.Evaluation;

namespace Compressor.Host.Demo;

/// <summary>The demo's comparison table, built from its report: one row for the FP32 model and one per step
/// (status, primary metric and its change from FP32, bits per weight, checkpoint and ONNX bytes, ORT median latency,
/// time). The console summary and report.html print the same rows.</summary>
public static class DemoTable
{
    /// <summary>The column headers for <paramref name="report"/>.</summary>
    public static string[] Headers(DemoReport report) =>
        ["STEP", "STATUS", Label(report.PrimaryMetric), "Δ VS FP32", "BITS/W", "CHECKPOINT BYTES", "ONNX BYTES", "ORT MEDIAN MS", "SECONDS"];

    /// <summary>The rows.</summary>
    public static List<string[]> Rows(DemoReport report)
    {
        string primary = report.PrimaryMetric;
        var rows = new List<string[]>();
        double? fp32Value = null;
        if (report.Fp32 is { } f)
        {
            fp32Value = Metric(f.Metrics, primary);
            rows.Add(["fp32", "reference", Metric(primary, fp32Value), "", f.BitsPerWeight.ToString(CultureInfo.InvariantCulture), Bytes(f.CheckpointBytes),
                Bytes(f.OnnxBytes), Fixed(Metric(f.Metrics, EvaluationMetricNames.LatencyMedianMs), 3), ""]);
        }
        foreach (var s in report.Steps)
        {
            if (s is not DemoStepRun run)
            {
                rows.Add([s.Name, $"{Status(s.Status)}: {s.Reason}", "", "", "", "", "", "", Fixed(s.Seconds, 1)]);
                continue;
            }
            double? value = Metric(run.Metrics, primary);
            string delta = value is { } v && fp32Value is { } b ? (primary == EvaluationMetricNames.Accuracy
                ? (100 * (v - b)).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pt"
                : (v - b).ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture)) : "";
            rows.Add([run.Name, Status(run.Status), Metric(primary, value), delta, run.BitsPerWeight is null ? "" : Results.LayerResult.Describe(run.BitsPerWeight, run.ValueBits, run.StoredShare), Bytes(run.CheckpointBytes),
                Bytes(run.OnnxBytes), Fixed(Metric(run.Metrics, EvaluationMetricNames.LatencyMedianMs), 3), Fixed(run.Seconds, 1)]);
        }
        return rows;
    }

    /// <summary>A metric's column label.</summary>
    public static string Label(string metric) => metric == EvaluationMetricNames.Accuracy ? "ACCURACY" : metric.ToUpperInvariant() + " VS FP32";

    /// <summary>A status as report.json writes it.</summary>
    public static string Status(DemoStepStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>The value of metric <paramref name="name"/> in a {name: value} map, or null.</summary>
    public static double? Metric(IReadOnlyDictionary<string, double?> metrics, string name) => metrics.TryGetValue(name, out var v) ? v : null;

    private static string Metric(string name, double? v) =>
        v is null ? "" : name == EvaluationMetricNames.Accuracy ? v.Value.ToString("P2", CultureInfo.InvariantCulture) : v.Value.ToString("F4", CultureInfo.InvariantCulture);

    private static string Fixed(double? v, int digits) => v?.ToString("F" + digits, CultureInfo.InvariantCulture) ?? "";

    private static string Bytes(long? v) => v?.ToString("N0", CultureInfo.InvariantCulture) ?? "";
}

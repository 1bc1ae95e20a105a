using System.Globalization;
using Compressor.Engine.Evaluation;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>headline</c>: the result in one line — how much smaller, how the task metric moved, how
/// much faster (with its spread) — and the numbers behind it.</summary>
/// <param name="Text">The line, e.g. "4.82× smaller (model.onnx 116.6 KiB vs 560.8 KiB), accuracy −0.28 pt (99.16 % → 98.89 %), 1.30× faster (IQR 1.21–1.40×, 20 interleaved runs)".</param>
/// <param name="SizeRatio">Reference bytes ÷ output bytes (above 1: smaller).</param>
/// <param name="SizeBasis">What was compared: "model.onnx vs the input model exported to ONNX", or the checkpoint vs the input file.</param>
/// <param name="Metric">The task metric (accuracy, perplexity) or, without one, output cosine to the reference; null without an evaluation.</param>
/// <param name="MetricChange">Value − reference (accuracy in points ×100 of the fraction is in <see cref="Text"/>; here the raw difference).</param>
/// <param name="SpeedUp">The speed-up with its spread, or null.</param>
public sealed record Headline(string Text, double SizeRatio, string SizeBasis, string? Metric, double? MetricChange, SpeedUp? SpeedUp)
{
    /// <summary>The headline of a run: its output against its reference.</summary>
    public static Headline Of(CheckpointOutput output, InputModel input, IReadOnlyList<MetricResult> metrics, EvaluationReport? evaluation)
    {
        long outBytes, refBytes;
        string basis, shown;
        if (output.Onnx is { } onnx && evaluation?.ReferenceBytes is { } rb and > 0)
        {
            (outBytes, refBytes) = (onnx.BytesOnDisk, rb);
            basis = $"{onnx.File} vs the input model exported to ONNX";
            shown = $"{onnx.File} {Bytes(outBytes)} vs {Bytes(refBytes)}";
        }
        else
        {
            (outBytes, refBytes) = (output.BytesOnDisk, input.Bytes);
            basis = $"{output.Checkpoint} vs the input file";
            shown = $"{output.Checkpoint} {Bytes(outBytes)} vs {Bytes(refBytes)}";
        }
        double ratio = Math.Round((double)refBytes / Math.Max(1, outBytes), 4);
        var parts = new List<string> { $"{Ratio(ratio)} ({shown})" };

        string? metric = null;
        double? change = null;
        var evaluated = metrics.Where(m => m.Dataset is not null).ToList();
        var task = evaluated.FirstOrDefault(m => m.Name is EvaluationMetricNames.Accuracy or EvaluationMetricNames.Perplexity && m.Value is not null && m.Reference is not null);
        if (task is not null)
        {
            metric = task.Name;
            change = Math.Round(task.Value!.Value - task.Reference!.Value, 6);
            parts.Add(task.Name == EvaluationMetricNames.Accuracy
                ? $"accuracy {Signed(100 * change.Value, "F2")} pt ({Percent(task.Reference.Value)} → {Percent(task.Value.Value)})"
                : $"perplexity {Signed(100 * change.Value / task.Reference.Value, "F1")} % ({F(task.Reference.Value, "F3")} → {F(task.Value.Value, "F3")})");
        }
        else if (evaluated.FirstOrDefault(m => m.Name == EvaluationMetricNames.Cosine && m.Value is not null) is { } cosine)
        {
            metric = cosine.Name;
            change = Math.Round(cosine.Value!.Value - 1, 6);
            parts.Add($"output cosine {F(cosine.Value.Value, "F4")} to the input model's");
        }
        var speedUp = evaluation?.SpeedUp;
        if (speedUp is not null) parts.Add(speedUp.Describe());
        return new Headline(string.Join(", ", parts), ratio, basis, metric, change, speedUp);
    }

    /// <summary>"4.82× smaller" (or "1.10× larger").</summary>
    public static string Ratio(double ratio) => ratio >= 1 ? $"{F(ratio, "F2")}× smaller" : $"{F(1 / ratio, "F2")}× larger";

    /// <summary>Bytes in B, KiB, MiB or GiB with 3–4 significant digits.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes.ToString(CultureInfo.InvariantCulture)} B" : $"{F(v, v >= 100 ? "F0" : "F1")} {units[u]}";
    }

    private static string Percent(double fraction) => $"{F(100 * fraction, "F2")} %";

    private static string Signed(double v, string format) => (v >= 0 ? "+" : "−") + Math.Abs(v).ToString(format, CultureInfo.InvariantCulture);

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}

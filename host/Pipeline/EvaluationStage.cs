using Compressor.Engine.Data;
using Compressor.Engine.Evaluation;
using Compressor.Engine.Kinds;
using Compressor.Engine.Onnx.Export;
using Compressor.Host.Results;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Reports;

namespace Compressor.Host.Pipeline;

/// <summary>The evaluation of <c>compress run --data</c>, in two parts. Right after the input model is loaded, and
/// before any plugin changes it, <see cref="ExportReference"/> writes it as the uncompressed ONNX reference in the work
/// folder (the input is loaded and exported once). After the compressed model.onnx passed the gate,
/// <see cref="Evaluate"/> runs both on ONNX Runtime over the data's evaluation split (<see cref="OrtEvaluation"/>):
/// each metric goes to the report's <c>metrics[]</c> with the input model's value as <c>reference</c>, and the
/// returned record (how it was measured) becomes report.json's <c>evaluation</c>.</summary>
public static class EvaluationStage
{
    /// <summary>The reference model's file name in the work folder.</summary>
    public const string ReferenceFile = "reference.onnx";

    /// <summary>How report.json names the reference.</summary>
    public const string ReferenceDescription = "input model (uncompressed, exported to ONNX)";

    /// <summary>Exports the input model as loaded (no verification: it is what the plugins start from) to
    /// <paramref name="workDirectory"/>/<see cref="ReferenceFile"/>.</summary>
    public static OnnxExportResult ExportReference(CompressibleModel input, string workDirectory, LayerKindSet kinds, int? opset)
    {
        Directory.CreateDirectory(workDirectory);
        return OnnxExporter.Export(input, Path.Combine(workDirectory, ReferenceFile), kinds, new OnnxExportOptions { Opset = opset });
    }

    /// <summary>Evaluates <paramref name="onnxPath"/> against <paramref name="referencePath"/> on the evaluation split (at
    /// most <paramref name="limit"/> samples), showing its progress; warns in the report when the model runs slower or
    /// needs more memory than the reference.</summary>
    public static EvaluationReport Evaluate(string onnxPath, string referencePath, DataSplits data, ReportBuilder report, IPluginLogger log,
        CancellationToken cancellation, IProgressReporter? progress = null, long? limit = null)
    {
        log.Info($"evaluating {OnnxStage.FileName} and the input model on ONNX Runtime ({data.Evaluation.Name}" +
                 $"{(limit is { } l && l < data.Evaluation.Count ? $", first {l} of {data.Evaluation.Count} samples" : "")})");
        var result = OrtEvaluation.Run(onnxPath, referencePath, data.Evaluation, data.Info.Kind, new OrtEvaluationOptions { Limit = limit }, cancellation, progress);
        foreach (var m in result.Metrics) report.AddMetric(m);
        var evaluation = EvaluationReport.Of(result, OnnxStage.FileName, ReferenceDescription, limit, File.Exists(referencePath) ? new FileInfo(referencePath).Length : null);
        foreach (var w in CostWarnings(evaluation, result)) report.Warn(w);
        return evaluation;
    }

    /// <summary>Warnings for a compressed model that costs more to run than the reference: slower in three quarters of
    /// the interleaved runs (the speed-up's 75th percentile below 1), or more than 1.2× its peak memory.</summary>
    public static IEnumerable<string> CostWarnings(EvaluationReport evaluation, OrtEvaluationResult result)
    {
        if (evaluation.SpeedUp is { P75: < 1 } s)
            yield return $"{OnnxStage.FileName} runs {s.Describe()} than the input model on ONNX Runtime CPU: its compressed form runs as extra " +
                         "operators (dequantization, quantize-dequantize of activations) that ORT did not fuse into faster kernels here; see verification.fusedKernels";
        if (result[EvaluationMetricNames.PeakMemoryMB] is { Reference: { } rm and > 0, Value: var mm } && mm / rm > 1.2)
            yield return $"{OnnxStage.FileName} needs {(mm / rm).ToString("F1", System.Globalization.CultureInfo.InvariantCulture)}× the peak memory of the input model on ONNX Runtime CPU " +
                         $"({mm.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} vs {rm.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} MiB)";
    }
}

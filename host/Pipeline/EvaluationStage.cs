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

    /// <summary>Evaluates <paramref name="onnxPath"/> against <paramref name="referencePath"/> on the evaluation split.</summary>
    public static EvaluationReport Evaluate(string onnxPath, string referencePath, DataSplits data, ReportBuilder report, IPluginLogger log,
        CancellationToken cancellation)
    {
        log.Info($"evaluating {OnnxStage.FileName} and the input model on ONNX Runtime ({data.Evaluation.Name})");
        var result = OrtEvaluation.Run(onnxPath, referencePath, data.Evaluation, data.Info.Kind, new OrtEvaluationOptions(), cancellation);
        foreach (var m in result.Metrics) report.AddMetric(m);
        return EvaluationReport.Of(result, OnnxStage.FileName, ReferenceDescription);
    }
}

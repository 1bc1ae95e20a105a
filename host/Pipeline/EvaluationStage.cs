using Compressor.Host.Commands;
using Compressor.Sdk.Architectures;
using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Evaluation;
using Compressor.Sdk.Models;
using Compressor.Sdk.Onnx.Export;
using Compressor.Sdk.Reports;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>The evaluation step of <c>compress run</c> (when it was given <c>--data</c> and wrote model.onnx): exports
/// the input model as it was loaded to an uncompressed ONNX reference in the work folder, and evaluates the compressed
/// model.onnx against it on ONNX Runtime over the data's evaluation split (<see cref="OrtEvaluation"/>). Each metric
/// goes to the report's <c>metrics[]</c> with the input model's value as <c>reference</c>; the returned object (how it
/// was measured) becomes report.json's <c>evaluation</c>.</summary>
public static class EvaluationStage
{
    /// <summary>The reference model's file name in the work folder.</summary>
    public const string ReferenceFile = "reference.onnx";

    /// <summary>Evaluates <paramref name="onnxPath"/> against the input model of <paramref name="request"/>.</summary>
    public static JObject Run(RunRequest request, string onnxPath, DataSplits data, string workDirectory, ReportBuilder report, IPluginLogger log,
        CancellationToken cancellation)
    {
        log.Info($"evaluating {OnnxStage.FileName} and the input model on ONNX Runtime ({data.Evaluation.Name})");
        Directory.CreateDirectory(workDirectory);
        string referencePath = Path.Combine(workDirectory, ReferenceFile);
        var arch = request.Architecture is null ? null : ArchitectureRegistry.Spec(request.Architecture);
        using (var input = ModelIO.Load(request.ModelPath, arch))
            OnnxExporter.Export(input, referencePath, new OnnxExportOptions { Opset = request.Opset });
        var result = OrtEvaluation.Run(onnxPath, referencePath, data.Evaluation, data.Info.Kind, new OrtEvaluationOptions(), cancellation);
        foreach (var m in result.Metrics) report.AddMetric(m);
        var json = EvaluationJson.Build(result, OnnxStage.FileName, "input model (uncompressed, exported to ONNX)");
        json.Remove("metrics");
        return json;
    }
}

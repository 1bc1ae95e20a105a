using Compressor.Engine.Kinds;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Engine.Streaming;
using Compressor.Host.Results;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;

namespace Compressor.Host.Pipeline;

/// <summary>Exports a model to ONNX and runs the verification gate (shared by <c>compress run</c> and
/// <c>compress export</c>), and gives the results' report form (<c>output.onnx</c>, <c>verification</c>). A failed
/// gate throws (exit code 7), so the caller's staging leaves no output behind.</summary>
public static class OnnxStage
{
    /// <summary>The ONNX file name <c>compress run</c> writes.</summary>
    public const string FileName = "model.onnx";

    /// <summary>What the stage produced.</summary>
    /// <param name="Export">What the exporter wrote.</param>
    /// <param name="Output">Its report form (files, sizes, bits per weight).</param>
    /// <param name="Verification">The gate's findings, in report form.</param>
    /// <param name="PreMerge">The pre-merge decision at <c>--deploy-tokens</c>, or null.</param>
    public sealed record Result(OnnxExportResult Export, OnnxOutput Output, OnnxVerification Verification, PreMergeReport? PreMerge = null);

    /// <summary>The warning for a speed export whose layers (some) still run float products, or null.</summary>
    public static string? FallbackWarning(OnnxVerification v) => v.FallbackLayers.Count == 0 ? null
        : $"--target speed: {v.FallbackLayers.Count} of {v.LayerKernels.Count} compressed layer(s) still run a float product on ONNX Runtime " +
          $"(not on an integer kernel): {string.Join(", ", v.FallbackLayers.Take(12))}{(v.FallbackLayers.Count > 12 ? ", …" : "")}; " +
          "quantize their inputs too (e.g. rtn --activation-bits 8 --weight-bits 8 --group-size 0) to run them on int8 kernels";

    /// <summary>The warning for a speed export that did not run faster than the input model in the median interleaved
    /// run, or null. A model slower in three quarters of the runs is already warned about by
    /// <see cref="EvaluationStage.CostWarnings"/>, so this one covers the undecided middle.</summary>
    public static string? SlowWarning(SpeedUp? s) => s is { Median: <= 1.0, P75: >= 1.0 }
        ? $"--target speed: {FileName} is not faster than the input model on ONNX Runtime here ({s.Describe()})"
        : null;

    /// <summary>Whether <paramref name="model"/> can be exported (an executable architecture that emits its graph).</summary>
    public static bool CanExport(CompressibleModel model) => model.IsExecutable && model.Module is IOnnxExportableModel;

    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/> (its compressed layers lowered by
    /// <paramref name="kinds"/>) and verifies it, as one progress task (export, then verification). With
    /// <paramref name="deployTokens"/> &gt; 0 the structured layers take the form that is faster at that many tokens per
    /// call (<see cref="PreMergeChoice"/>; the layers <paramref name="recorded"/> names as recorded).</summary>
    /// <exception cref="Sdk.CompressException">Export impossible, or the gate failed (kind VerificationFailed).</exception>
    public static Result Run(CompressibleModel model, string path, LayerKindSet kinds, int? opset, ExportTarget target = ExportTarget.Size, IProgressReporter? progress = null,
        int deployTokens = 0, PreMergeReport? recorded = null)
    {
        using var task = (progress ?? NullProgressReporter.Instance).Start($"exporting {Path.GetFileName(path)}", 2);
        var preMerge = PreMergeChoice.Apply(model, deployTokens, recorded);
        // The decisions are now the layers' own flags, which the lowerings follow at DeployTokens 0 (a new measurement
        // at N could disagree with a recorded decision near a break-even).
        var export = OnnxExporter.Export(model, path, kinds, new OnnxExportOptions { Opset = opset, Target = target, DeployTokens = 0 });
        task.Advance(1, "verifying on ONNX Runtime");
        var verification = OnnxVerifier.Verify(model, export);
        verification.EnsurePassed();
        task.Advance(1);
        return new Result(export, SizeAccounting.Of(model).Onnx(export), OnnxVerification.Of(verification), preMerge);
    }

    /// <summary>Exports and verifies a streamed run's compressed model without holding it whole
    /// (<see cref="StreamedExport"/>): <paramref name="declared"/> is the model on the meta device, the blocks are read
    /// from <paramref name="checkpoint"/> one at a time; the tensors go to the side file <c>path + ".data"</c>.</summary>
    /// <exception cref="Sdk.CompressException">Export impossible, or the gate failed (kind VerificationFailed).</exception>
    public static Result RunStreamed(StreamedCheckpoint checkpoint, CompressibleModel declared, string path, int? opset, ExportTarget target = ExportTarget.Size,
        IProgressReporter? progress = null)
    {
        using var task = (progress ?? NullProgressReporter.Instance).Start($"exporting {Path.GetFileName(path)} block by block", 2);
        using var streamed = StreamedExport.Open(checkpoint);
        var model = (Compressor.Engine.Models.EngineModel)declared;
        var export = streamed.Export(model, path, new OnnxExportOptions { Opset = opset, Target = target });
        task.Advance(1, "verifying on ONNX Runtime block by block");
        var verification = streamed.Verify(model, export);
        verification.EnsurePassed();
        task.Advance(1);
        return new Result(export, SizeAccounting.Of(declared).Onnx(export), OnnxVerification.Of(verification));
    }
}

using Compressor.Engine.Kinds;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Host.Results;
using Compressor.Sdk.Diagnostics;
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
    public sealed record Result(OnnxExportResult Export, OnnxOutput Output, OnnxVerification Verification);

    /// <summary>Whether <paramref name="model"/> can be exported (an executable architecture that emits its graph).</summary>
    public static bool CanExport(CompressibleModel model) => model.IsExecutable && model.Module is IOnnxExportableModel;

    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/> (its compressed layers lowered by
    /// <paramref name="kinds"/>) and verifies it, as one progress task (export, then verification).</summary>
    /// <exception cref="Sdk.CompressException">Export impossible, or the gate failed (kind VerificationFailed).</exception>
    public static Result Run(CompressibleModel model, string path, LayerKindSet kinds, int? opset, IProgressReporter? progress = null)
    {
        using var task = (progress ?? NullProgressReporter.Instance).Start($"exporting {Path.GetFileName(path)}", 2);
        var export = OnnxExporter.Export(model, path, kinds, new OnnxExportOptions { Opset = opset });
        task.Advance(1, "verifying on ONNX Runtime");
        var verification = OnnxVerifier.Verify(model, export);
        verification.EnsurePassed();
        task.Advance(1);
        return new Result(export, SizeAccounting.Of(model).Onnx(export), OnnxVerification.Of(verification));
    }
}

using Compressor.Sdk;
using Compressor.Sdk.Architectures;
using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Diagnostics;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>Runs one <c>compress export</c>: loads the checkpoint (its architecture and compressed layers from its
/// metadata), exports it to ONNX and runs the verification gate, through <see cref="OutputStaging"/> in the output
/// file's folder — so the file appears only when the gate passed.</summary>
public sealed class ExportPipeline(IPluginLogger log)
{
    /// <summary>Executes <paramref name="request"/>; returns the files written and the result object
    /// (<c>input</c>, <c>onnx</c>, <c>verification</c>).</summary>
    /// <exception cref="CompressException">Any user-facing failure, with its kind.</exception>
    public (IReadOnlyList<string> Files, JObject Result) Execute(ExportRequest request, CancellationToken cancellation)
    {
        if (!File.Exists(request.CheckpointPath)) throw new CompressException(ErrorKind.InvalidInput, $"{request.CheckpointPath}: no such file");
        string fileName = Path.GetFileName(request.OutputPath);
        if (fileName.Length == 0 || Directory.Exists(request.OutputPath))
            throw new CompressException(ErrorKind.InvalidOptions, $"--out {request.OutputPath}: give a file name, e.g. model.onnx");
        ArchitectureSpec? arch = request.Architecture is null ? null : ArchitectureRegistry.Spec(request.Architecture);
        log.Info($"loading {request.CheckpointPath}");
        using var model = ModelIO.Load(request.CheckpointPath, arch);
        if (!model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput,
                $"{request.CheckpointPath} is weights-only (no known architecture): it cannot be exported to ONNX; pass --arch NAME");
        cancellation.ThrowIfCancellationRequested();
        using var staging = new OutputStaging(Path.GetDirectoryName(Path.GetFullPath(request.OutputPath))!);
        log.Info($"exporting {fileName} and verifying it on ONNX Runtime");
        var onnx = OnnxStage.Run(model, staging.PathOf(fileName), request.Opset);
        var files = staging.Commit();
        var result = new JObject
        {
            ["input"] = new JObject { ["path"] = Path.GetFullPath(request.CheckpointPath), ["sha256"] = RunPipeline.Sha256(request.CheckpointPath) },
            ["onnx"] = onnx.Output,
            ["verification"] = onnx.VerificationJson,
        };
        return (files, result);
    }
}

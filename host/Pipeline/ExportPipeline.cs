using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Pipeline;

/// <summary>Runs one <c>compress export</c>: loads the checkpoint (its architecture and compressed layers from its
/// metadata, rebuilt by the run's layer kinds: the layers library's and every installed plugin's), exports it to ONNX
/// and runs the verification gate, through <see cref="OutputStaging"/> in the output file's folder — so the file
/// appears only when the gate passed.</summary>
/// <param name="kinds">The compressed layer kinds that rebuild and lower the checkpoint's layers.</param>
/// <param name="log">Progress messages.</param>
public sealed class ExportPipeline(LayerKindSet kinds, IPluginLogger log)
{
    /// <summary>Executes <paramref name="request"/>.</summary>
    /// <exception cref="CompressException">Any user-facing failure, with its kind.</exception>
    public ExportResult Execute(ExportRequest request, CancellationToken cancellation)
    {
        if (request.DeployTokens < 0) throw new CompressException(ErrorKind.InvalidOptions, $"--deploy-tokens {request.DeployTokens}: give 0 (as the checkpoint records) or the tokens per call, e.g. 1");
        if (ModelFolder.IsFolder(request.CheckpointPath)) return ExecuteFolder(request, cancellation);
        if (!File.Exists(request.CheckpointPath)) throw new CompressException(ErrorKind.InvalidInput, $"{request.CheckpointPath}: no such file");
        string fileName = Path.GetFileName(request.OutputPath);
        if (fileName.Length == 0 || Directory.Exists(request.OutputPath))
            throw new CompressException(ErrorKind.InvalidOptions, $"--out {request.OutputPath}: give a file name, e.g. model.onnx");
        ArchitectureSpec? arch = request.Architecture is null ? null : ArchitectureRegistry.Spec(request.Architecture);
        log.Info($"loading {request.CheckpointPath}");
        using var model = ModelIO.Load(request.CheckpointPath, kinds, arch);
        if (!model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput,
                $"{request.CheckpointPath} is weights-only (no known architecture): it cannot be exported to ONNX; pass --arch NAME");
        cancellation.ThrowIfCancellationRequested();
        using var staging = new OutputStaging(Path.GetDirectoryName(Path.GetFullPath(request.OutputPath))!);
        log.Info($"exporting {fileName} and verifying it on ONNX Runtime");
        var onnx = OnnxStage.Run(model, staging.PathOf(fileName), kinds, request.Opset, request.Target, deployTokens: request.DeployTokens);
        if (OnnxStage.FallbackWarning(onnx.Verification) is { } warning) log.Warn(warning);
        LogPreMerge(onnx.PreMerge);
        var files = staging.Commit();
        return new ExportResult(files, onnx.Output, onnx.Verification, onnx.PreMerge);
    }

    private void LogPreMerge(Compressor.Host.Results.PreMergeReport? p)
    {
        if (p is null) return;
        foreach (var g in p.Layers.GroupBy(l => (l.Kind, l.InFeatures, l.OutFeatures, l.BreakEvenTokens)))
            log.Info($"pre-merge: {g.Key.Kind} {g.Key.InFeatures}→{g.Key.OutFeatures} is faster structured from {g.Key.BreakEvenTokens} tokens per call; " +
                     $"{(g.First().Merged ? "merged" : "kept structured")} for --deploy-tokens {p.DeployTokens} ({g.Count()} layer(s))");
    }

    /// <summary>A Hugging Face / timm model folder: <c>--out</c> is a folder that receives the deployable layout
    /// (<see cref="DeployableFolder"/>).</summary>
    private ExportResult ExecuteFolder(ExportRequest request, CancellationToken cancellation)
    {
        if (File.Exists(request.OutputPath))
            throw new CompressException(ErrorKind.InvalidOptions, $"--out {request.OutputPath}: exporting a model folder writes a folder, and this is a file");
        var folder = ModelFolder.Open(request.CheckpointPath);
        log.Info($"loading {request.CheckpointPath} ({folder.Family}, {Path.GetFileName(folder.WeightsPath)})");
        using var model = ModelIO.Load(request.CheckpointPath, kinds, null, new ForeignModelOptions(request.Architecture));
        cancellation.ThrowIfCancellationRequested();
        using var staging = new OutputStaging(request.OutputPath);
        log.Info($"exporting {DeployableFolder.OnnxFile} and verifying it on ONNX Runtime");
        var onnx = OnnxStage.Run(model, staging.PathOf(DeployableFolder.OnnxFile), kinds, request.Opset, request.Target, deployTokens: request.DeployTokens);
        LogPreMerge(onnx.PreMerge);
        DeployableFolder.CopyCompanions(folder, staging.StagingDirectory);
        var files = staging.Commit();
        return new ExportResult(files, onnx.Output, onnx.Verification, onnx.PreMerge);
    }
}

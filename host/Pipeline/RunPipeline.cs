using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Options;
using Compressor.Engine.Plugins;
using Compressor.Host.Plugins;
using Compressor.Host.Results;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>Runs one <c>compress run</c>: resolves the steps and their options (before touching the model), loads
/// the checkpoint once with the run's layer kinds (<see cref="PluginCatalog.Kinds"/>), exports it as the evaluation's
/// reference when there is data (before any plugin changes it), runs each plugin in order on the same model (each
/// with a resume store in its own work folder), rejects non-finite weights, and writes the compressed checkpoint, the
/// ONNX model (verified by the gate of <see cref="OnnxStage"/>; skipped with a warning for weights-only models), the
/// recipe that ran and the report through <see cref="OutputStaging"/> — so a failure at any point leaves nothing under
/// the output folder's final names.</summary>
public sealed class RunPipeline(PluginCatalog catalog, IPluginLogger log, IProgressReporter progress, IRunObserver? observer = null)
{
    /// <summary>The compressed checkpoint's file name.</summary>
    public const string CheckpointFile = "compressed.safetensors";

    /// <summary>The recipe file name.</summary>
    public const string RecipeFile = "recipe.json";

    /// <summary>The report file name.</summary>
    public const string ReportFile = "report.json";

    private readonly IRunObserver _observer = observer ?? new NoObserver();

    private sealed record ResolvedStep(PluginEntry Plugin, PluginOptions Options);

    private sealed class NoObserver : IRunObserver;

    /// <summary>Executes <paramref name="request"/>.</summary>
    /// <exception cref="CompressException">Any user-facing failure, with its kind.</exception>
    public RunResult Execute(RunRequest request, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        if (request.TimeoutSeconds is { } t && !(t > 0 && t <= 7 * 24 * 3600))
            throw new CompressException(ErrorKind.InvalidOptions, $"--timeout {t} is out of range (0..604800 seconds)");
        if (request.EvalLimit is { } evalLimit && (evalLimit < 1 || request.Data is null))
            throw new CompressException(ErrorKind.InvalidOptions, evalLimit < 1 ? $"--eval-limit {evalLimit} must be at least 1" : "--eval-limit limits the evaluation of --data: pass --data SPEC");
        long? memoryLimit = request.MaxMemory is null ? null : MemoryBudget.Parse(request.MaxMemory);
        var (steps, recipeSeed, recipeTarget) = ResolveSteps(request);
        var target = request.ExportTarget ?? recipeTarget ?? Compressor.Sdk.Layers.ExportTarget.Size;
        int seed = request.Seed ?? recipeSeed ?? 0;
        var device = DeviceSelector.Resolve(request.Device);
        foreach (var s in steps)
            if (s.Plugin.Manifest!.Needs is DataRequirement.Calibration or DataRequirement.Training && request.Data is null)
                throw new CompressException(ErrorKind.InvalidOptions,
                    $"plugin '{s.Plugin.Id}' needs {s.Plugin.Manifest.Needs.ToString().ToLowerInvariant()} data: pass --data SPEC");

        var kinds = catalog.Kinds;
        using var staging = new OutputStaging(request.OutputDirectory);
        foreach (var recovered in staging.Recovered) log.Warn($"completed the interrupted commit of an earlier run in {staging.OutputDirectory} ({recovered})");
        string workRoot = Path.GetFullPath(request.WorkDirectory ?? Path.Combine(staging.OutputDirectory, ".work"));
        try
        {
            return Execute(request, cancellation, clock, memoryLimit, steps, seed, device, kinds, staging, workRoot, target);
        }
        catch when (request.WorkDirectory is null)
        {
            // A failed or cancelled run keeps the resume state its steps saved (a rerun continues from it) and
            // nothing else: the reference export and empty folders go.
            TryDeleteFile(Path.Combine(workRoot, EvaluationStage.ReferenceFile));
            RemoveEmptyFolders(workRoot);
            throw;
        }
    }

    private RunResult Execute(RunRequest request, CancellationToken cancellation, Stopwatch clock, long? memoryLimit, List<ResolvedStep> steps,
        int seed, Device device, Compressor.Engine.Kinds.LayerKindSet kinds, OutputStaging staging, string workRoot, Compressor.Sdk.Layers.ExportTarget target)
    {
        if (request.Architecture is not null) ArchitectureRegistry.Get(request.Architecture);   // an unknown name fails before anything loads
        var foreign = new ForeignModelOptions(request.Architecture, request.Heads);
        // A model folder gives a deployable output folder: its config and tokenizer files beside onnx/model.onnx.
        var folder = ModelFolder.IsFolder(request.ModelPath) ? ModelFolder.Open(request.ModelPath, request.Heads) : null;
        if (folder is null) Compressor.Engine.IO.InputFiles.RequireRegular(request.ModelPath);   // missing, a FIFO, a device: refused before data loads
        string onnxFile = folder is null ? OnnxStage.FileName : DeployableFolder.OnnxFile;

        using var data = request.Data is null ? null : DataSources.Open(request.Data, seed, folder?.Directory);
        var pluginData = data is null ? PluginData.None : new PluginData(data.Train, data.Calibration, data.Evaluation);
        long dataBytes = data is null ? 0 : MemoryEstimate.DataBytes(data);
        // The memory check comes before the input is hashed or loaded: a file too large for the limit is refused
        // from its header alone.
        if (memoryLimit is { } limit) MemoryEstimate.CheckCheckpoint(request.ModelPath, folder?.WeightsPath, kinds, foreign, dataBytes, limit);
        var input = InputFile.Of(request.ModelPath);
        manual_seed(seed);
        log.Info($"loading {request.ModelPath}");
        using var model = ModelIO.Load(request.ModelPath, kinds, null, foreign);
        CheckFiniteInput(model, request.ModelPath);
        _observer.Loaded(request.ModelPath, model);
        var memory = memoryLimit is { } l ? MemoryEstimate.Budget(model, dataBytes, l) : MemoryBudget.Unlimited;
        // The evaluation's reference is the input model as loaded: exported now (on the CPU, where it was loaded),
        // before any plugin changes it. Its time counts in the total, not in the load.
        string? reference = null;
        long? referenceBytes = null;
        var referenceClock = new Stopwatch();
        if (data is not null && OnnxStage.CanExport(model))
        {
            referenceClock.Start();
            Compressor.Engine.Onnx.Export.OnnxExportResult exported;
            try { exported = EvaluationStage.ExportReference(model, workRoot, kinds, request.Opset); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CompressException(ErrorKind.OutputFailed, $"cannot write the reference model in {workRoot}: {e.Message}");
            }
            referenceClock.Stop();
            reference = exported.ModelPath;
            referenceBytes = exported.BytesOnDisk;
            _observer.ReferenceExported(reference);
        }
        model.Module.to(device);
        long inputParameters = model.ParameterCount();
        var report = new ReportBuilder();
        var timings = new OrderedDictionary<string, double>(StringComparer.Ordinal) { ["load"] = ReportNumber.Seconds(clock.Elapsed - referenceClock.Elapsed) };
        if (reference is not null) timings["reference"] = ReportNumber.Seconds(referenceClock.Elapsed);
        var applied = new List<AppliedStep>();
        for (int i = 0; i < steps.Count; i++)
        {
            var (entry, options) = steps[i];
            cancellation.ThrowIfCancellationRequested();
            if (entry.Manifest!.Needs is DataRequirement.Calibration or DataRequirement.Training && !model.IsExecutable)
                throw new CompressException(ErrorKind.InvalidInput, $"plugin '{entry.Id}' needs an executable model, but {request.ModelPath} has no known architecture: pass --arch");
            string work = Path.Combine(workRoot, $"{i + 1}-{entry.Id}");
            using var stepCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var context = new PluginContext
            {
                Model = model, Data = entry.Manifest.Needs == DataRequirement.None ? PluginData.None : pluginData, Device = device, Seed = seed,
                Random = new Random(seed + i), Progress = progress, Log = log, Cancellation = stepCancellation.Token,
                Resume = new FolderResumeStore(work, kinds), Report = report, Memory = memory,
            };
            var guard = SelectionGuard.Capture(entry.Id, model, new LayerSelector(options.Include, options.Exclude), entry.Manifest.Updates);
            var stepClock = Stopwatch.StartNew();
            log.Info($"step {i + 1}/{steps.Count}: {entry.Id} {entry.Manifest.Version}");
            _observer.StepStarting(i, entry.Id);
            try
            {
                PluginStep.Run(entry, context, options, request.TimeoutSeconds, stepCancellation);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                throw new CompressException(ErrorKind.Cancelled, "cancelled");
            }
            catch (CompressException e) when (e.Kind is ErrorKind.InvalidOptions or ErrorKind.InvalidInput or ErrorKind.Cancelled or ErrorKind.TimedOut
                                                  or ErrorKind.MemoryLimit or ErrorKind.OutputFailed)
            {
                throw;
            }
            catch (Exception e)
            {
                throw new CompressException(ErrorKind.PluginFailed, $"plugin '{entry.Id}' failed: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}", e);
            }
            guard.Verify(model);
            timings[$"step{i + 1}:{entry.Id}"] = ReportNumber.Seconds(stepClock.Elapsed);
            var step = new AppliedStep(entry.Id, entry.Manifest.Version, OptionsSchema.For(entry.Instance!.OptionsType).ToJson(options));
            applied.Add(step);
            model.Steps.Add(step);
            CheckFinite(model, entry.Id);
        }

        string checkpoint = staging.PathOf(CheckpointFile);
        try { ModelIO.Save(model, checkpoint); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write {CheckpointFile}: {e.Message}");
        }
        var output = SizeAccounting.Of(model).Checkpoint(CheckpointFile, checkpoint);

        OnnxVerification? verification = null;
        Engine.Onnx.Export.OnnxExportResult? onnxExport = null;
        if (OnnxStage.CanExport(model))
        {
            cancellation.ThrowIfCancellationRequested();
            log.Info($"exporting {OnnxStage.FileName} and verifying it on ONNX Runtime");
            var onnxClock = Stopwatch.StartNew();
            var onnx = OnnxStage.Run(model, staging.PathOf(onnxFile), kinds, request.Opset, target, progress);
            onnxExport = onnx.Export;
            output = output with { Onnx = onnx.Output };
            verification = onnx.Verification;
            if (OnnxStage.FallbackWarning(verification) is { } fallback) report.Warn(fallback);
            timings["onnx"] = ReportNumber.Seconds(onnxClock.Elapsed);
        }
        else
        {
            report.Warn($"ONNX export skipped: {(model.IsExecutable ? $"architecture {model.ArchitectureName} does not implement ONNX export" : "the model is weights-only (unknown architecture); pass --arch to export model.onnx")}");
        }
        var evaluationClock = Stopwatch.StartNew();
        var evaluation = data is not null && reference is not null && output.Onnx is not null  // compressed vs input model on ORT
            ? EvaluationStage.Evaluate(staging.PathOf(onnxFile), reference, data, report, log, cancellation, progress, request.EvalLimit) : null;
        if (evaluation is not null) timings["evaluation"] = ReportNumber.Seconds(evaluationClock.Elapsed);
        if (target == Compressor.Sdk.Layers.ExportTarget.Speed && OnnxStage.SlowWarning(evaluation?.SpeedUp) is { } slow) report.Warn(slow);
        timings["total"] = ReportNumber.Seconds(clock.Elapsed);

        var audited = steps.Select(s => new LayerAudit.Step(s.Plugin, s.Options)).ToList();
        var sizes = LayerAudit.Breakdown(model, LayerAudit.Fp32Layers(model, audited, catalog), CheckpointFile, output.BytesOnDisk, onnxExport);
        var recipe = new RunRecipe(RunReport.CurrentSchemaVersion, ToolInfo.Current, seed, device.ToString(), input, request.Data, applied, ExportTargets.Name(target));
        var runReport = RunReport.Of(recipe, inputParameters, output, verification, report, timings, evaluation, LayerAudit.Storage(model), sizes);
        if (folder is not null) DeployableFolder.CopyCompanions(folder, staging.StagingDirectory);
        ResultJson.WriteFile(staging.PathOf(RecipeFile), recipe);
        ResultJson.WriteFile(staging.PathOf(ReportFile), runReport);
        Reports.ReportWriter.Write(runReport, staging.StagingDirectory, log);
        var files = staging.Commit();
        if (request.WorkDirectory is null) TryDelete(workRoot);  // the default work folder only matters for resuming a failed run
        return new RunResult(staging.OutputDirectory, files, runReport, recipe, evaluation is null ? null : referenceBytes);
    }

    private (List<ResolvedStep> Steps, int? Seed, Compressor.Sdk.Layers.ExportTarget? Target) ResolveSteps(RunRequest request)
    {
        bool isRecipe = request.Target.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || File.Exists(request.Target);
        if (!isRecipe)
        {
            var entry = catalog.Require(request.Target);
            var notices = new List<string>();
            var options = OptionsSchema.For(entry.Instance!.OptionsType).ParseCli(request.PluginArguments, $"plugin '{entry.Id}'", notices);
            foreach (var n in notices) log.Warn(n);
            return ([new ResolvedStep(entry, options)], null, null);
        }
        if (request.PluginArguments.Count > 0)
            throw new CompressException(ErrorKind.InvalidOptions,
                $"unexpected argument '{request.PluginArguments[0]}': with a recipe, plugin options go in the recipe file");
        if (!File.Exists(request.Target)) throw new CompressException(ErrorKind.InvalidInput, $"{request.Target}: no such recipe file");
        var recipe = Recipe.Load(request.Target);
        var steps = new List<ResolvedStep>();
        for (int i = 0; i < recipe.Steps.Count; i++)
        {
            var entry = catalog.Require(recipe.Steps[i].Plugin);
            var notices = new List<string>();
            var options = OptionsSchema.For(entry.Instance!.OptionsType).FromJson(recipe.Steps[i].Options, $"recipe step {i + 1} ('{entry.Id}')", notices);
            foreach (var n in notices) log.Warn(n);
            steps.Add(new ResolvedStep(entry, options));
        }
        return (steps, recipe.Seed, recipe.Target);
    }

    /// <summary>An input whose floating-point tensors hold NaN or Inf is a bad input, named as such before any plugin
    /// runs (instead of surfacing later as a plugin's failure).</summary>
    private static void CheckFiniteInput(CompressibleModel model, string path)
    {
        using var scope = NewDisposeScope();
        foreach (var (name, t) in model.NamedTensors())
        {
            if (!t.is_floating_point()) continue;
            if (!t.isfinite().all().item<bool>())
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: tensor '{name}' holds non-finite values (NaN or Inf); compress needs finite weights");
        }
    }

    private static void TryDeleteFile(string file)
    {
        try { File.Delete(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Removes <paramref name="dir"/> and its subfolders where they hold no file.</summary>
    private static void RemoveEmptyFolders(string dir)
    {
        try
        {
            if (!Directory.Exists(dir)) return;
            foreach (var sub in Directory.GetDirectories(dir)) RemoveEmptyFolders(sub);
            if (!Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static void CheckFinite(CompressibleModel model, string plugin)
    {
        using var scope = NewDisposeScope();
        foreach (var (name, t) in model.NamedTensors())
        {
            if (!t.is_floating_point()) continue;
            if (!t.isfinite().all().item<bool>())
                throw new CompressException(ErrorKind.PluginFailed, $"plugin '{plugin}' produced non-finite values (NaN or Inf) in '{name}'");
        }
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Options;
using Compressor.Engine.Plugins;
using Compressor.Engine.Streaming;
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
        var (steps, recipeSeed, recipeTarget, recipePreMerge) = ResolveSteps(request);
        var target = request.ExportTarget ?? recipeTarget ?? Compressor.Sdk.Layers.ExportTarget.Size;
        if (request.DeployTokens is < 0)
            throw new CompressException(ErrorKind.InvalidOptions, $"--deploy-tokens {request.DeployTokens}: give 0 (as the checkpoint records) or the tokens per call, e.g. 1");
        // --deploy-tokens, else the recipe's; the recipe's recorded decisions hold at its own token count.
        var preMerge = new PreMergeRequest(request.DeployTokens ?? recipePreMerge?.DeployTokens ?? 0, recipePreMerge);
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
            return Execute(request, cancellation, clock, memoryLimit, steps, seed, device, kinds, staging, workRoot, target, preMerge);
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
        int seed, Device device, Compressor.Engine.Kinds.LayerKindSet kinds, OutputStaging staging, string workRoot, Compressor.Sdk.Layers.ExportTarget target,
        PreMergeRequest preMerge)
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
        // from its header alone. A decoder whose steps all work block by block streams instead (--stream, or
        // automatically when the whole model does not fit), under the streamed estimate.
        using var streamed = OpenStreamed(request, steps, kinds, foreign, folder, dataBytes, memoryLimit);
        if (streamed is not null && preMerge.DeployTokens > 0)
            throw new CompressException(ErrorKind.InvalidOptions, $"--deploy-tokens{(request.DeployTokens is null ? " (the recipe's preMerge)" : "")}: a streamed run exports its blocks as the checkpoint records them; " +
                                                                  "decide the pre-merge with 'compress export compressed.safetensors --deploy-tokens N' after it, or run with --stream off (or --deploy-tokens 0)");
        if (streamed is not null)
            return ExecuteStreamed(request, cancellation, clock, memoryLimit, steps, seed, device, kinds, staging, workRoot, target, folder, onnxFile, data, dataBytes, streamed);
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
            RunStep(entry, context, options, request.TimeoutSeconds, stepCancellation, cancellation);
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
        return Finish(request, cancellation, clock, steps, seed, device, kinds, staging, workRoot, target, folder, onnxFile, data, input, model, inputParameters,
            report, timings, applied, reference, referenceBytes, preMerge: preMerge);
    }

    /// <summary>The run's pre-merge request: the tokens per call model.onnx is made for (0: none) and a recipe's
    /// recorded decisions (used at their own token count).</summary>
    private sealed record PreMergeRequest(int DeployTokens, PreMergeReport? Recorded);

    /// <summary>Everything after the compressed checkpoint is written: the ONNX export and its gate, the evaluation
    /// against the reference, the report, the recipe, and the commit of the output folder.</summary>
    private RunResult Finish(RunRequest request, CancellationToken cancellation, Stopwatch clock, List<ResolvedStep> steps, int seed, Device device,
        Compressor.Engine.Kinds.LayerKindSet kinds, OutputStaging staging, string workRoot, Compressor.Sdk.Layers.ExportTarget target, ModelFolder? folder,
        string onnxFile, DataSplits? data, InputFile input, EngineModel model, long inputParameters, ReportBuilder report, OrderedDictionary<string, double> timings,
        List<AppliedStep> applied, string? reference, long? referenceBytes, StreamedCheckpoint? streamed = null, PreMergeRequest? preMerge = null)
    {
        string checkpoint = staging.PathOf(CheckpointFile);
        var output = SizeAccounting.Of(model).Checkpoint(CheckpointFile, checkpoint);

        OnnxVerification? verification = null;
        Engine.Onnx.Export.OnnxExportResult? onnxExport = null;
        PreMergeReport? preMerged = null;
        if (OnnxStage.CanExport(model))
        {
            cancellation.ThrowIfCancellationRequested();
            log.Info($"exporting {OnnxStage.FileName} and verifying it on ONNX Runtime");
            var onnxClock = Stopwatch.StartNew();
            var onnx = streamed is null ? OnnxStage.Run(model, staging.PathOf(onnxFile), kinds, request.Opset, target, progress, preMerge?.DeployTokens ?? 0, preMerge?.Recorded)
                : OnnxStage.RunStreamed(streamed, model, staging.PathOf(onnxFile), request.Opset, target, progress);
            onnxExport = onnx.Export;
            preMerged = onnx.PreMerge;
            if (preMerged is not null)
                log.Info($"pre-merge at --deploy-tokens {preMerged.DeployTokens}: {preMerged.Merged} of {preMerged.Layers.Count} structured layer(s) merged" +
                         (preMerge?.Recorded is { } r && r.DeployTokens == preMerged.DeployTokens ? " (as the recipe recorded)" : ""));
            output = output with { Onnx = onnx.Output };
            verification = onnx.Verification;
            if (streamed is not null) report.AddMetric(new Metric("exportPeakLiveBlocks", streamed.PeakLiveBlocks, "blocks"));
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
        var recipe = new RunRecipe(RunReport.CurrentSchemaVersion, ToolInfo.Current, seed, device.ToString(), input, request.Data, applied, ExportTargets.Name(target), preMerged);
        var runReport = RunReport.Of(recipe, inputParameters, output, verification, report, timings, evaluation, LayerAudit.Storage(model), sizes);
        if (folder is not null) DeployableFolder.CopyCompanions(folder, staging.StagingDirectory);
        ResultJson.WriteFile(staging.PathOf(RecipeFile), recipe);
        ResultJson.WriteFile(staging.PathOf(ReportFile), runReport);
        Reports.ReportWriter.Write(runReport, staging.StagingDirectory, log);
        var files = staging.Commit();
        if (request.WorkDirectory is null) TryDelete(workRoot);  // the default work folder only matters for resuming a failed run
        return new RunResult(staging.OutputDirectory, files, runReport, recipe, evaluation is null ? null : referenceBytes);
    }

    /// <summary>Runs one plugin step on <paramref name="context"/>'s model, turning what it throws into the run's error
    /// kinds: its own user-facing errors pass through, anything else is the plugin's failure.</summary>
    internal static void RunStep(PluginEntry entry, PluginContext context, PluginOptions options, double? timeoutSeconds, CancellationTokenSource stepCancellation,
        CancellationToken cancellation)
    {
        try
        {
            PluginStep.Run(entry, context, options, timeoutSeconds, stepCancellation);
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
    }

    /// <summary>The checkpoint opened for streaming when the run streams (<c>--stream on</c>; with <c>auto</c>, when
    /// every step works block by block and the whole model does not fit <c>--max-memory</c>), else null — after the
    /// whole-model memory check of a run that does not stream.</summary>
    private StreamedCheckpoint? OpenStreamed(RunRequest request, List<ResolvedStep> steps, Compressor.Engine.Kinds.LayerKindSet kinds, ForeignModelOptions foreign,
        ModelFolder? folder, long dataBytes, long? memoryLimit)
    {
        var mode = StreamModes.Parse(request.Stream);
        // A step streams when its manifest declares it and its options do not ask for a whole-model mode (training,
        // an allocation across all layers).
        var blocking = steps.FirstOrDefault(s => !s.Plugin.Manifest!.StreamsByBlock || s.Options.NotStreamableReason() is not null);
        if (mode == StreamMode.On)
        {
            if (blocking is not null)
                throw new CompressException(ErrorKind.InvalidOptions, blocking.Plugin.Manifest!.StreamsByBlock
                    ? $"--stream on: plugin '{blocking.Plugin.Id}': {blocking.Options.NotStreamableReason()}"
                    : $"--stream on: plugin '{blocking.Plugin.Id}' does not work block by block (its plugin.json does not declare \"streaming\": \"block\")");
            if (!StreamedCheckpoint.IsStreamable(request.ModelPath, foreign))
            {
                // Let the checkpoint's own error (a missing shard, a bad header) speak when there is one.
                using (StreamedCheckpoint.Open(request.ModelPath, kinds, foreign)) { }
            }
        }
        bool stream = mode == StreamMode.On;
        if (memoryLimit is { } limit && !stream)
        {
            try
            {
                MemoryEstimate.CheckCheckpoint(request.ModelPath, folder?.WeightsPath, kinds, foreign, dataBytes, limit);
            }
            catch (CompressException e) when (e.Kind == ErrorKind.MemoryLimit && mode == StreamMode.Auto && blocking is null
                                              && StreamedCheckpoint.IsStreamable(request.ModelPath, foreign))
            {
                log.Info($"the whole model does not fit --max-memory {MemoryBudget.Format(limit)}: streaming it block by block");
                stream = true;
            }
        }
        if (!stream) return null;
        var checkpoint = StreamedCheckpoint.Open(request.ModelPath, kinds, foreign);
        try
        {
            if (memoryLimit is { } l) MemoryEstimate.CheckStreamed(checkpoint, dataBytes, StreamedActivationBytes(checkpoint, null, l, dataBytes), l);
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>The in-memory budget of one block boundary's calibration activations: a quarter of what the limit leaves
    /// beside the streamed working set, or <see cref="DefaultActivationBudget"/> without a limit.</summary>
    private static long StreamedActivationBytes(StreamedCheckpoint checkpoint, DataSplits? data, long? limit, long dataBytes) =>
        limit is { } l ? Math.Max(0, (l - MemoryEstimate.StreamedPeak(checkpoint, 0, dataBytes)) / 4) : DefaultActivationBudget;

    /// <summary>Bytes of one block boundary's activations kept in memory without <c>--max-memory</c>.</summary>
    public const long DefaultActivationBudget = 512L << 20;

    /// <summary>A streamed run (see <see cref="StreamingStage"/>): the reference exported whole only when the whole model
    /// fits (else the evaluation is skipped with a warning), the steps run unit by unit, the compressed checkpoint
    /// assembled tensor by tensor, then loaded — it is small — for the export, the gate and the report.</summary>
    private RunResult ExecuteStreamed(RunRequest request, CancellationToken cancellation, Stopwatch clock, long? memoryLimit, List<ResolvedStep> steps, int seed,
        Device device, Compressor.Engine.Kinds.LayerKindSet kinds, OutputStaging staging, string workRoot, Compressor.Sdk.Layers.ExportTarget target,
        ModelFolder? folder, string onnxFile, DataSplits? data, long dataBytes, StreamedCheckpoint checkpoint)
    {
        var input = InputFile.Of(request.ModelPath);
        manual_seed(seed);
        var report = new ReportBuilder();
        log.Info($"streaming {request.ModelPath} block by block: {checkpoint.BlockNames.Count} blocks of up to {MemoryBudget.Format(checkpoint.BlockBytes.Max())} " +
                 $"beside {MemoryBudget.Format(checkpoint.ShellBytes)} of embeddings and head (the whole model: {MemoryBudget.Format(checkpoint.ModelBytes)} in float32)");
        string? reference = null;
        long? referenceBytes = null;
        var referenceClock = new Stopwatch();
        if (data is not null)
        {
            long whole = MemoryEstimate.Peak(checkpoint.ModelBytes, dataBytes);
            long room = memoryLimit ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            if (whole <= room)
            {
                referenceClock.Start();
                using (var floatModel = ModelIO.Load(request.ModelPath, kinds, null, new ForeignModelOptions(request.Architecture, request.Heads)))
                {
                    var exported = EvaluationStage.ExportReference(floatModel, workRoot, kinds, request.Opset);
                    reference = exported.ModelPath;
                    referenceBytes = exported.BytesOnDisk;
                }
                referenceClock.Stop();
                _observer.ReferenceExported(reference);
            }
            else
            {
                report.Warn($"evaluation skipped: its reference is the float input model exported whole, which needs about {MemoryBudget.Format(whole)} " +
                            $"(over {(memoryLimit is null ? "this machine's memory" : "--max-memory")} {MemoryBudget.Format(room)}); the streamed run compressed it block by block");
            }
        }
        var timings = new OrderedDictionary<string, double>(StringComparer.Ordinal) { ["load"] = ReportNumber.Seconds(clock.Elapsed - referenceClock.Elapsed) };
        if (reference is not null) timings["reference"] = ReportNumber.Seconds(referenceClock.Elapsed);
        var stageSteps = steps.Select(s => new StreamingStage.Step(s.Plugin, s.Options,
            new AppliedStep(s.Plugin.Id, s.Plugin.Manifest!.Version, OptionsSchema.For(s.Plugin.Instance!.OptionsType).ToJson(s.Options)))).ToList();
        bool usesData = data is not null && steps.Any(s => s.Plugin.Manifest!.Needs != DataRequirement.None);
        var fingerprint = new Newtonsoft.Json.Linq.JObject
        {
            ["format"] = 1, ["input"] = input.Sha256, ["seed"] = seed, ["data"] = usesData ? request.Data : null,
            ["steps"] = new Newtonsoft.Json.Linq.JArray(stageSteps.Select(s => new Newtonsoft.Json.Linq.JObject { ["plugin"] = s.Applied.Plugin, ["version"] = s.Applied.Version, ["options"] = s.Applied.Options })),
        }.ToString(Newtonsoft.Json.Formatting.None);
        string checkpointPath = staging.PathOf(CheckpointFile);
        var stepsClock = Stopwatch.StartNew();
        StreamingStage.Result streamedResult;
        try
        {
            streamedResult = new StreamingStage(log, progress).Run(checkpoint, stageSteps, usesData ? data!.Calibration ?? data.Train : null, seed, device, workRoot,
                fingerprint, memoryLimit, StreamedActivationBytes(checkpoint, data, memoryLimit, dataBytes), request.TimeoutSeconds, report, checkpointPath, cancellation);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write {CheckpointFile}: {e.Message}");
        }
        for (int i = 0; i < steps.Count; i++) timings[$"step{i + 1}:{steps[i].Plugin.Id}"] = ReportNumber.Seconds(TimeSpan.FromSeconds(streamedResult.Seconds[i]));
        timings["streamed"] = ReportNumber.Seconds(stepsClock.Elapsed);
        if (streamedResult.ResumedUnits > 0) log.Info($"streaming: {streamedResult.ResumedUnits} unit(s) resumed from {workRoot}");
        report.AddMetric(new Metric("streamedBlocks", checkpoint.BlockNames.Count, "blocks"));
        report.AddMetric(new Metric("streamedPeakLiveBlocks", checkpoint.PeakLiveBlocks, "blocks"));
        report.AddMetric(new Metric("streamedPeakEstimate", MemoryEstimate.StreamedPeak(checkpoint, 0, dataBytes), "bytes"));
        long compressedBytes = new FileInfo(checkpointPath).Length;
        if (memoryLimit is { } limit) MemoryEstimate.CheckExport(checkpoint, compressedBytes, dataBytes, limit);
        report.AddMetric(new Metric("exportPeakEstimate", MemoryEstimate.ExportPeak(checkpoint, compressedBytes, dataBytes), "bytes"));
        // The compressed model is never held whole: declared on the meta device for the report's accounting, exported
        // and verified with its blocks read from the checkpoint one at a time.
        using var compressed = StreamedCheckpoint.OpenCompressed(checkpointPath, kinds);
        using var model = compressed.Declare();
        var applied = stageSteps.Select(s => s.Applied).ToList();
        return Finish(request, cancellation, clock, steps, seed, device, kinds, staging, workRoot, target, folder, onnxFile, data, input, model, checkpoint.ParameterCount,
            report, timings, applied, reference, referenceBytes, compressed);
    }

    private (List<ResolvedStep> Steps, int? Seed, Compressor.Sdk.Layers.ExportTarget? Target, PreMergeReport? PreMerge) ResolveSteps(RunRequest request)
    {
        bool isRecipe = request.Target.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || File.Exists(request.Target);
        if (!isRecipe)
        {
            var entry = catalog.Require(request.Target);
            var notices = new List<string>();
            var options = OptionsSchema.For(entry.Instance!.OptionsType).ParseCli(request.PluginArguments, $"plugin '{entry.Id}'", notices);
            foreach (var n in notices) log.Warn(n);
            return ([new ResolvedStep(entry, options)], null, null, null);
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
        return (steps, recipe.Seed, recipe.Target, recipe.PreMerge);
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

    internal static void CheckFinite(CompressibleModel model, string plugin)
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

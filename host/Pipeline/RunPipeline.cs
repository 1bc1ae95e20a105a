using System.Diagnostics;
using System.Security.Cryptography;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Architectures;
using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Compression;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>Runs one <c>compress run</c>: resolves the steps and their options (before touching the model), loads
/// the checkpoint, runs each plugin in order on the same model, rejects non-finite weights, and writes the
/// compressed checkpoint, the ONNX model (verified by the gate of <see cref="OnnxStage"/>; skipped with a warning for
/// weights-only models), the recipe that ran and the report through <see cref="OutputStaging"/> — so a failure
/// at any point leaves nothing under the output folder's final names.</summary>
public sealed class RunPipeline(PluginCatalog catalog, IPluginLogger log, IProgressReporter progress)
{
    /// <summary>The compressed checkpoint's file name.</summary>
    public const string CheckpointFile = "compressed.safetensors";

    /// <summary>The recipe file name.</summary>
    public const string RecipeFile = "recipe.json";

    /// <summary>The report file name.</summary>
    public const string ReportFile = "report.json";

    private sealed record ResolvedStep(PluginEntry Plugin, PluginOptions Options);

    /// <summary>Executes <paramref name="request"/>.</summary>
    /// <exception cref="CompressException">Any user-facing failure, with its kind.</exception>
    public RunResult Execute(RunRequest request, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        if (request.TimeoutSeconds is { } t && !(t > 0 && t <= 7 * 24 * 3600))
            throw new CompressException(ErrorKind.InvalidOptions, $"--timeout {t} is out of range (0..604800 seconds)");
        long? memoryLimit = request.MaxMemory is null ? null : MemoryBudget.Parse(request.MaxMemory);
        var (steps, recipeSeed) = ResolveSteps(request);
        int seed = request.Seed ?? recipeSeed ?? 0;
        var device = DeviceSelector.Resolve(request.Device);
        foreach (var s in steps)
            if (s.Plugin.Manifest!.Needs != DataRequirement.None && request.Data is null)
                throw new CompressException(ErrorKind.InvalidOptions,
                    $"plugin '{s.Plugin.Id}' needs {s.Plugin.Manifest.Needs.ToString().ToLowerInvariant()} data: pass --data SPEC");

        using var staging = new OutputStaging(request.OutputDirectory);
        string workRoot = Path.GetFullPath(request.WorkDirectory ?? Path.Combine(staging.OutputDirectory, ".work"));
        var input = Describe(request.ModelPath);
        ArchitectureSpec? arch = request.Architecture is null ? null : ArchitectureRegistry.Spec(request.Architecture);

        using var data = request.Data is null ? null : DataSources.Open(request.Data, seed);
        var pluginData = data is null ? PluginData.None : new PluginData(data.Train, data.Calibration, data.Evaluation);
        long dataBytes = data is null ? 0 : MemoryEstimate.DataBytes(data);
        if (memoryLimit is { } limit) MemoryEstimate.CheckCheckpoint(request.ModelPath, dataBytes, limit);
        manual_seed(seed);
        log.Info($"loading {request.ModelPath}");
        using var model = ModelIO.Load(request.ModelPath, arch);
        model.Module.to(device);
        long inputParameters = model.ParameterCount();
        var memory = memoryLimit is { } l ? MemoryEstimate.Budget(model, dataBytes, l) : MemoryBudget.Unlimited;
        var report = new ReportBuilder();
        var timings = new JObject { ["load"] = Math.Round(clock.Elapsed.TotalSeconds, 3) };
        var applied = new List<AppliedStep>();
        for (int i = 0; i < steps.Count; i++)
        {
            var (entry, options) = steps[i];
            cancellation.ThrowIfCancellationRequested();
            if (entry.Manifest!.Needs != DataRequirement.None && !model.IsExecutable)
                throw new CompressException(ErrorKind.InvalidInput, $"plugin '{entry.Id}' needs an executable model, but {request.ModelPath} has no known architecture: pass --arch");
            string work = Path.Combine(workRoot, $"{i + 1}-{entry.Id}");
            Directory.CreateDirectory(work);
            using var stepCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var context = new PluginContext
            {
                Model = model, Data = entry.Manifest.Needs == DataRequirement.None ? PluginData.None : pluginData, Device = device, Seed = seed, Random = new Random(seed + i), Progress = progress, Log = log,
                Cancellation = stepCancellation.Token, WorkDirectory = work, Report = report, Memory = memory,
            };
            var guard = SelectionGuard.Capture(entry.Id, model, new LayerSelector(options.Include, options.Exclude), entry.Manifest.Updates);
            var stepClock = Stopwatch.StartNew();
            log.Info($"step {i + 1}/{steps.Count}: {entry.Id} {entry.Manifest.Version}");
            PluginResult result;
            try
            {
                result = PluginStep.Run(entry, context, options, request.TimeoutSeconds, stepCancellation);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                throw new CompressException(ErrorKind.Cancelled, "cancelled");
            }
            catch (CompressException e) when (e.Kind is ErrorKind.InvalidOptions or ErrorKind.InvalidInput or ErrorKind.Cancelled or ErrorKind.TimedOut or ErrorKind.MemoryLimit)
            {
                throw;
            }
            catch (Exception e)
            {
                throw new CompressException(ErrorKind.PluginFailed, $"plugin '{entry.Id}' failed: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}", e);
            }
            if (!ReferenceEquals(result.Model, model))
                throw new CompressException(ErrorKind.PluginFailed, $"plugin '{entry.Id}' returned a different model object; plugins rewrite the context's model in place");
            guard.Verify(model);
            timings[$"step{i + 1}:{entry.Id}"] = Math.Round(stepClock.Elapsed.TotalSeconds, 3);
            var step = new AppliedStep(entry.Id, entry.Manifest.Version, OptionsSchema.For(entry.Instance.OptionsType).ToJson(options));
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
        var output = new JObject
        {
            ["checkpoint"] = CheckpointFile,
            ["sha256"] = Sha256(checkpoint),
            ["bytesOnDisk"] = new FileInfo(checkpoint).Length,
        };
        AddSizes(model, output);

        JObject? verification = null;
        if (OnnxStage.CanExport(model))
        {
            cancellation.ThrowIfCancellationRequested();
            log.Info($"exporting {OnnxStage.FileName} and verifying it on ONNX Runtime");
            var onnxClock = Stopwatch.StartNew();
            var onnx = OnnxStage.Run(model, staging.PathOf(OnnxStage.FileName), request.Opset);
            output["onnx"] = onnx.Output;
            verification = onnx.VerificationJson;
            timings["onnx"] = Math.Round(onnxClock.Elapsed.TotalSeconds, 3);
        }
        else
        {
            report.Warn($"ONNX export skipped: {(model.IsExecutable ? $"architecture {model.Architecture?.Name} does not implement ONNX export" : "the model is weights-only (unknown architecture); pass --arch to export model.onnx")}");
        }
        var evaluation = data is not null && output["onnx"] is not null  // compressed vs input model on ORT
            ? EvaluationStage.Run(request, staging.PathOf(OnnxStage.FileName), data, workRoot, report, log, cancellation) : null;
        timings["total"] = Math.Round(clock.Elapsed.TotalSeconds, 3);

        var recipe = new JObject
        {
            ["schemaVersion"] = 1,
            ["tool"] = ToolInfo(),
            ["seed"] = seed,
            ["device"] = device.ToString(),
            ["input"] = input,
            ["data"] = request.Data,
            ["steps"] = new JArray(applied.Select(s => new JObject { ["plugin"] = s.Plugin, ["version"] = s.Version, ["options"] = s.Options })),
        };
        var reportJson = ReportJson.Build(recipe, inputParameters, output, report, timings, verification);
        IO.Write(staging.PathOf(RecipeFile), recipe);
        if (evaluation is not null) reportJson["evaluation"] = evaluation;
        IO.Write(staging.PathOf(ReportFile), reportJson);
        Reports.ReportWriter.Write(reportJson, staging.StagingDirectory, log);
        var files = staging.Commit();
        if (request.WorkDirectory is null) TryDelete(workRoot);  // the default work folder only matters for resuming a failed run
        return new RunResult(staging.OutputDirectory, files, reportJson);
    }

    private (List<ResolvedStep> Steps, int? Seed) ResolveSteps(RunRequest request)
    {
        bool isRecipe = request.Target.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || File.Exists(request.Target);
        if (!isRecipe)
        {
            var entry = catalog.Require(request.Target);
            var options = OptionsSchema.For(entry.Instance!.OptionsType).ParseCli(request.PluginArguments, $"plugin '{entry.Id}'");
            return ([new ResolvedStep(entry, options)], null);
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
            var options = OptionsSchema.For(entry.Instance!.OptionsType).FromJson(recipe.Steps[i].Options, $"recipe step {i + 1} ('{entry.Id}')");
            steps.Add(new ResolvedStep(entry, options));
        }
        return (steps, recipe.Seed);
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

    private static void AddSizes(CompressibleModel model, JObject output)
    {
        long storageBits = 0, weights = 0;
        foreach (var (_, m) in model.NamedModules())
            if (m is ICompressedLayer c)
            {
                storageBits += c.WeightStorageBits;
                weights += c.DenseWeightShape.Aggregate(1L, (a, b) => a * b);
            }
        long otherBytes = 0;
        var compressedPrefixes = model.NamedModules().Where(x => x.Module is ICompressedLayer).Select(x => x.Name + ".").ToList();
        foreach (var (name, t) in model.NamedTensors())
        {
            bool inCompressed = compressedPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));
            if (inCompressed && !name.EndsWith(".bias", StringComparison.Ordinal)) continue;
            otherBytes += t.numel() * t.element_size();
        }
        output["theoreticalBytes"] = (storageBits + 7) / 8 + otherBytes;
        output["compressedWeights"] = weights;
        output["bitsPerWeight"] = weights == 0 ? null : Math.Round((double)storageBits / weights, 4);
    }

    private static JObject Describe(string path)
    {
        if (!File.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"{path}: no such file");
        return new JObject { ["path"] = Path.GetFullPath(path), ["sha256"] = Sha256(path), ["bytes"] = new FileInfo(path).Length };
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    internal static string Sha256(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    internal static JObject ToolInfo() => new()
    {
        ["name"] = "compress",
        ["version"] = typeof(RunPipeline).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        ["sdkVersion"] = SdkInfo.Version,
    };

    private static class IO
    {
        public static void Write(string path, JObject json) =>
            Sdk.IO.AtomicFile.WriteAllText(path, json.ToString(Newtonsoft.Json.Formatting.Indented) + "\n");
    }
}

/// <summary>What a run produced.</summary>
public sealed record RunResult(string OutputDirectory, IReadOnlyList<string> Files, JObject Report);

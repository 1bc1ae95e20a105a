using System.Diagnostics;
using System.Reflection;
using Compressor.Engine.IO;
using Compressor.Engine.Models.Pretrained;
using Compressor.Host.Console;
using Compressor.Host.Pipeline;
using Compressor.Host.Plugins;
using Compressor.Host.Results;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Demo;

/// <summary>Runs <c>compress demo</c>: gets the base model (trains it with <see cref="TrainPipeline"/>, or locates a
/// pretrained one), then runs each <see cref="DemoStep"/> of the <see cref="DemoPlan"/> through
/// <see cref="RunPipeline"/> (compress, export, verify, evaluate on ONNX Runtime) into its own folder, skipping steps
/// whose plugins are not installed and recording failed ones without stopping, and writes the comparison report.</summary>
/// <param name="catalog">The installed plugins (and the run's layer kinds).</param>
/// <param name="error">Where stages, logs and progress go.</param>
/// <param name="verbosity">How much to show there.</param>
/// <param name="cancellation">Ctrl+C.</param>
public sealed class DemoRunner(PluginCatalog catalog, TextWriter error, Verbosity verbosity, CancellationToken cancellation)
{
    /// <summary>The base model's folder under the output folder (trained models).</summary>
    public const string BaseFolder = "base";

    /// <summary>The folder of the step outputs.</summary>
    public const string StepsFolder = "steps";

    /// <summary>The folder of the recipes the steps ran.</summary>
    public const string RecipesFolder = "recipes";

    private readonly ConsoleWriter _progress = new(error, verbosity);
    private IPluginLogger Log => _progress.Logger;

    /// <summary>Runs the demo and returns its report (also written as report.json and report.html).</summary>
    public DemoResult Run(DemoRequest request)
    {
        var clock = Stopwatch.StartNew();
        var plan = DemoPlan.Load(request.StepsFile, request.Model);
        string outDir = Path.GetFullPath(request.OutputDirectory);
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"--out {request.OutputDirectory}: cannot create the folder ({e.Message})");
        }
        int total = plan.Steps.Count + 1;
        Stage(1, total, plan.Train is null ? $"base model: {plan.Description}" : $"training the base model: {plan.Description}");
        string data = plan.Data.Replace(DemoPlan.SentencesPlaceholder, WriteSentences(outDir), StringComparison.Ordinal);
        var baseClock = Stopwatch.StartNew();
        var (modelPath, baseModel) = BaseModel(plan, request, data, outDir);
        baseModel = baseModel with { Seconds = Math.Round(baseClock.Elapsed.TotalSeconds, 2) };

        var results = new List<DemoStepResult>();
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var step = plan.Steps[i];
            Stage(i + 2, total, $"{step.Name}: {step.Title}");
            var result = RunStep(step, modelPath, data, request, outDir);
            if (result.Status == DemoStepStatus.Skipped) _progress.WriteLine($"  skipped: {result.Reason}");
            else if (result.Status == DemoStepStatus.Failed) _progress.WriteLine($"  failed: {result.Reason}");
            else _progress.WriteLine($"  done in {result.Seconds:F1} s");
            results.Add(result);
        }
        var report = DemoReport.Build(plan, request, data, baseModel, results, clock.Elapsed.TotalSeconds);
        ResultJson.WriteFile(Path.Combine(outDir, DemoReport.JsonFile), report);
        AtomicFile.WriteAllText(Path.Combine(outDir, DemoReport.HtmlFile), DemoReportHtml.Render(report, Log));
        return new DemoResult(outDir, report, results);
    }

    private void Stage(int index, int total, string what)
    {
        if (verbosity >= Verbosity.Minimal) _progress.WriteLine($"[{index}/{total}] {what}");
    }

    private (string ModelPath, DemoBaseModel Info) BaseModel(DemoPlan plan, DemoRequest request, string data, string outDir)
    {
        if (plan.Train is { } t)
        {
            string dir = Path.Combine(outDir, BaseFolder);
            int epochs = request.Quick ? t.QuickEpochs : t.Epochs;
            var train = new TrainRequest(t.Architecture, data, dir, epochs, Seed: request.Seed, Device: request.Device);
            var trained = _progress.Run(progress => new TrainPipeline(catalog.Kinds, Log, progress).Execute(train, cancellation));
            var r = trained.Report;
            return (trained.ModelPath, new DemoBaseModel("trained", r.Architecture, null, Path.GetRelativePath(outDir, trained.ModelPath),
                new FileInfo(trained.ModelPath).Length, r.Parameters, epochs, r.Final, r.TrainedBy, null));
        }
        string model = plan.Pretrained switch
        {
            "minilm" => PretrainedModels.MiniLm().ModelPath,
            _ => throw new CompressException(ErrorKind.InvalidInput, $"demo model '{plan.Model}': unknown pretrained model '{plan.Pretrained}' (known: minilm)"),
        };
        return (model, new DemoBaseModel("pretrained", null, plan.Pretrained, model, new FileInfo(model).Length, null, null, null, null,
            $"NuGet {PretrainedModels.MiniLmPackage} {PretrainedModels.MiniLmVersion} (all-MiniLM-L6-v2, Apache-2.0)"));
    }

    private DemoStepResult RunStep(DemoStep step, string modelPath, string data, DemoRequest request, string outDir)
    {
        foreach (var id in step.Recipe.Select(p => p.Plugin).Distinct(StringComparer.Ordinal))
        {
            var entry = catalog.Find(id);
            if (entry is null) return new DemoStepResult(step, DemoStepStatus.Skipped, $"plugin {id} not installed", null, 0);
            if (!entry.IsAvailable) return new DemoStepResult(step, DemoStepStatus.Skipped, $"plugin {id} not available ({entry.Status}: {entry.Reason})", null, 0);
        }
        var clock = Stopwatch.StartNew();
        string recipes = Directory.CreateDirectory(Path.Combine(outDir, RecipesFolder)).FullName;
        string recipePath = Path.Combine(recipes, step.Name + ".json");
        ResultJson.WriteFile(recipePath, step.RecipeFor(request.Seed, request.Quick));
        string stepOut = Path.Combine(outDir, StepsFolder, step.Name);
        string work = Path.Combine(outDir, ".work", step.Name);
        var run = new RunRequest(recipePath, modelPath, stepOut, null, data, request.Seed, request.Device, [], work, EvalLimit: request.EvalLimit);
        try
        {
            var result = _progress.Run(progress => new RunPipeline(catalog, Log, progress).Execute(run, cancellation));
            return new DemoStepResult(step, DemoStepStatus.Ok, null, result, clock.Elapsed.TotalSeconds);
        }
        catch (CompressException e) when (e.Kind != ErrorKind.Cancelled)
        {
            return new DemoStepResult(step, DemoStepStatus.Failed, e.Message, null, clock.Elapsed.TotalSeconds, e);
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>Writes the embedded demo sentences to OUT/data/sentences.txt and returns the path.</summary>
    private static string WriteSentences(string outDir)
    {
        string path = Path.Combine(Directory.CreateDirectory(Path.Combine(outDir, "data")).FullName, "sentences.txt");
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("Compressor.Host.Demo.demo-sentences.txt")
                      ?? throw new InvalidOperationException("resource demo-sentences.txt is missing from the host assembly");
        using var r = new StreamReader(s);
        AtomicFile.WriteAllText(path, r.ReadToEnd());
        return path;
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        try
        {
            string? parent = Path.GetDirectoryName(dir);
            if (parent is not null && Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

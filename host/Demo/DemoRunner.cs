using System.Diagnostics;
using System.Reflection;
using Compressor.Host.Commands;
using Compressor.Host.Console;
using Compressor.Host.Pipeline;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.IO;
using Compressor.Sdk.Models.Pretrained;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Demo;

/// <summary>Runs <c>compress demo</c>: gets the base model (trains it with <see cref="TrainCommand"/>'s handler, or
/// locates a pretrained one), then runs each <see cref="DemoStep"/> of the <see cref="DemoPlan"/> through
/// <see cref="RunPipeline"/> (compress, export, verify, evaluate on ONNX Runtime) into its own folder, skipping steps
/// whose plugins are not installed and recording failed ones without stopping, and writes the comparison report.</summary>
public sealed class DemoRunner(CommandEnvironment env)
{
    /// <summary>The base model's folder under the output folder (trained models).</summary>
    public const string BaseFolder = "base";

    /// <summary>The folder of the step outputs.</summary>
    public const string StepsFolder = "steps";

    /// <summary>The folder of the recipes the steps ran.</summary>
    public const string RecipesFolder = "recipes";

    /// <summary>Runs the demo and returns its report (also written as report.json and report.html).</summary>
    public DemoResult Run(DemoRequest request)
    {
        var clock = Stopwatch.StartNew();
        var plan = DemoPlan.Load(request.StepsFile, request.Model);
        var log = env.Logger();
        string outDir = Path.GetFullPath(request.OutputDirectory);
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"--out {request.OutputDirectory}: cannot create the folder ({e.Message})");
        }
        var catalog = env.Catalog();
        int total = plan.Steps.Count + 1;
        Stage(1, total, plan.Train is null ? $"base model: {plan.Description}" : $"training the base model: {plan.Description}");
        string data = plan.Data.Replace(DemoPlan.SentencesPlaceholder, WriteSentences(outDir), StringComparison.Ordinal);
        var baseClock = Stopwatch.StartNew();
        var (modelPath, baseInfo) = BaseModel(plan, request, data, outDir);
        baseInfo["seconds"] = Math.Round(baseClock.Elapsed.TotalSeconds, 2);

        var results = new List<DemoStepResult>();
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            env.Cancellation.ThrowIfCancellationRequested();
            var step = plan.Steps[i];
            Stage(i + 2, total, $"{step.Name}: {step.Title}");
            var result = RunStep(step, catalog, modelPath, data, request, outDir, log);
            if (result.Status == DemoStepStatus.Skipped) env.Error.WriteLine($"  skipped: {result.Reason}");
            else if (result.Status == DemoStepStatus.Failed) env.Error.WriteLine($"  failed: {result.Reason}");
            else env.Error.WriteLine($"  done in {result.Seconds:F1} s");
            results.Add(result);
        }
        var report = DemoReport.Build(plan, request, data, baseInfo, results, clock.Elapsed.TotalSeconds);
        AtomicFile.WriteAllText(Path.Combine(outDir, DemoReport.JsonFile), report.ToString(Newtonsoft.Json.Formatting.Indented) + "\n");
        AtomicFile.WriteAllText(Path.Combine(outDir, DemoReport.HtmlFile), DemoReportHtml.Render(report, log));
        return new DemoResult(outDir, report, results);
    }

    private void Stage(int index, int total, string what)
    {
        if (env.Verbosity >= Verbosity.Minimal) env.Error.WriteLine($"[{index}/{total}] {what}");
    }

    private (string ModelPath, JObject Info) BaseModel(DemoPlan plan, DemoRequest request, string data, string outDir)
    {
        if (plan.Train is { } t)
        {
            string dir = Path.Combine(outDir, BaseFolder);
            int epochs = request.Quick ? t.QuickEpochs : t.Epochs;
            // The train command's own handler (not a subprocess); its stdout summary is not wanted here.
            TrainCommand.Handle(env with { Out = TextWriter.Null, Json = false },
                new TrainCommand.Request(t.Architecture, data, dir, epochs, 3e-3, 32, 0.05, request.Seed, false, null, request.Device));
            string path = Path.Combine(dir, "model.safetensors");
            var train = JObject.Parse(File.ReadAllText(Path.Combine(dir, "train.json")));
            return (path, new JObject
            {
                ["kind"] = "trained",
                ["architecture"] = train["architecture"]?.DeepClone(),
                ["path"] = Path.GetRelativePath(outDir, path),
                ["bytes"] = new FileInfo(path).Length,
                ["parameters"] = train["parameters"]?.DeepClone(),
                ["epochs"] = epochs,
                ["final"] = train["final"]?.DeepClone(),
                ["trainedBy"] = train["trainedBy"]?.DeepClone(),
            });
        }
        string model = plan.Pretrained switch
        {
            "minilm" => PretrainedModels.MiniLm().ModelPath,
            _ => throw new CompressException(ErrorKind.InvalidInput, $"demo model '{plan.Model}': unknown pretrained model '{plan.Pretrained}' (known: minilm)"),
        };
        return (model, new JObject
        {
            ["kind"] = "pretrained",
            ["name"] = plan.Pretrained,
            ["path"] = model,
            ["bytes"] = new FileInfo(model).Length,
            ["source"] = $"NuGet {PretrainedModels.MiniLmPackage} {PretrainedModels.MiniLmVersion} (all-MiniLM-L6-v2, Apache-2.0)",
        });
    }

    private DemoStepResult RunStep(DemoStep step, PluginCatalog catalog, string modelPath, string data, DemoRequest request, string outDir, IPluginLogger log)
    {
        foreach (var id in step.Recipe.Select(p => p.Plugin).Distinct(StringComparer.Ordinal))
        {
            var entry = catalog.Entries.FirstOrDefault(e => e.Id == id && e.IsAvailable) ?? catalog.Entries.FirstOrDefault(e => e.Id == id);
            if (entry is null) return new DemoStepResult(step, DemoStepStatus.Skipped, $"plugin {id} not installed", null, null, 0);
            if (!entry.IsAvailable) return new DemoStepResult(step, DemoStepStatus.Skipped, $"plugin {id} not available ({entry.Status}: {entry.Reason})", null, null, 0);
        }
        var clock = Stopwatch.StartNew();
        string recipes = Directory.CreateDirectory(Path.Combine(outDir, RecipesFolder)).FullName;
        string recipePath = Path.Combine(recipes, step.Name + ".json");
        AtomicFile.WriteAllText(recipePath, step.RecipeJson(request.Seed, request.Quick).ToString(Newtonsoft.Json.Formatting.Indented) + "\n");
        string stepOut = Path.Combine(outDir, StepsFolder, step.Name);
        string work = Path.Combine(outDir, ".work", step.Name);
        var run = new RunRequest(recipePath, modelPath, stepOut, null, data, request.Seed, request.Device, [], work);
        try
        {
            var result = WithProgress(progress => new RunPipeline(catalog, log, progress).Execute(run, env.Cancellation));
            string reference = Path.Combine(work, EvaluationStage.ReferenceFile);
            long referenceBytes = File.Exists(reference) ? new FileInfo(reference).Length : 0;
            return new DemoStepResult(step, DemoStepStatus.Ok, null, result.OutputDirectory, result.Report, clock.Elapsed.TotalSeconds, referenceBytes);
        }
        catch (CompressException e) when (e.Kind != ErrorKind.Cancelled)
        {
            return new DemoStepResult(step, DemoStepStatus.Failed, e.Message, null, null, clock.Elapsed.TotalSeconds, 0, e);
        }
        finally
        {
            TryDelete(work);
        }
    }

    private T WithProgress<T>(Func<IProgressReporter, T> work)
    {
        bool bars = !System.Console.IsErrorRedirected && ReferenceEquals(env.Error, System.Console.Error) && env.Verbosity >= Verbosity.Normal;
        if (!bars) return work(new LineProgressReporter(env.Error, env.Verbosity));
        var spectre = new SpectreProgressReporter(env.Error);
        return spectre.Run(() => work(spectre));
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

/// <summary>What the demo produced.</summary>
/// <param name="OutputDirectory">The output folder.</param>
/// <param name="Report">The demo's report.json.</param>
/// <param name="Steps">Each step's outcome.</param>
public sealed record DemoResult(string OutputDirectory, JObject Report, IReadOnlyList<DemoStepResult> Steps);

using Compressor.Engine.Models;
using Compressor.Host.Pipeline;
using Compressor.Host.Plugins;
using Compressor.Host.Results;
using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Tests;

/// <summary>The run pipeline loads the input once, and with data exports it right away — before any plugin changes it
/// — as the evaluation's reference; the report it returns is the one on disk.</summary>
public sealed class RunPipelineTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private sealed class Watcher : IRunObserver
    {
        public int Loads, Exports;
        public string? Reference;
        public readonly List<string> AtSteps = [];

        public void Loaded(string path, EngineModel model) => Loads++;

        public void ReferenceExported(string path)
        {
            Exports++;
            Reference = path;
        }

        public void StepStarting(int index, string plugin) =>
            AtSteps.Add($"{index}:{plugin}: loads {Loads}, exports {Exports}, reference on disk {Reference is not null && File.Exists(Reference)}");
    }

    private static RunResult Run(string target, string model, string outDir, string? data, string? work, IRunObserver observer, params string[] options) =>
        new RunPipeline(PluginCatalog.Discover(PluginCatalog.SearchPath([])), NullPluginLogger.Instance, NullProgressReporter.Instance, observer)
            .Execute(new RunRequest(target, model, outDir, null, data, null, "cpu", options, work), CancellationToken.None);

    [Fact]
    public void TheInputIsLoadedAndExportedOnceBeforeThePluginsRun()
    {
        string dir = fx.NewDir("once");
        string recipe = Path.Combine(dir, "two.json");
        File.WriteAllText(recipe, """{"steps": [{"plugin": "rtn", "options": {"weightBits": 8, "include": ["layers.0"]}}, {"plugin": "rtn", "options": {"weightBits": 4, "exclude": ["layers.0"]}}]}""");
        var watcher = new Watcher();
        string work = Path.Combine(dir, "work");
        var result = Run(recipe, fx.ModelPath, Path.Combine(dir, "out"), "digits", work, watcher);
        Assert.Equal(1, watcher.Loads);
        Assert.Equal(1, watcher.Exports);
        Assert.Equal(["0:rtn: loads 1, exports 1, reference on disk True", "1:rtn: loads 1, exports 1, reference on disk True"], watcher.AtSteps);
        Assert.Equal(Path.Combine(work, EvaluationStage.ReferenceFile), watcher.Reference);
        // The reference is the input as loaded: what `compress export` writes from the input file.
        string exported = Path.Combine(dir, "input.onnx");
        var (code, _, stderr) = HostFixture.Cli("export", fx.ModelPath, "--out", exported, "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(exported), File.ReadAllBytes(watcher.Reference!));
        Assert.Equal(new FileInfo(exported).Length, result.ReferenceOnnxBytes);
        Assert.Equal(EvaluationStage.ReferenceDescription, result.Report.Evaluation!.Reference);
    }

    [Fact]
    public void WithoutDataNothingIsExportedBeforeThePlugins()
    {
        var watcher = new Watcher();
        var result = Run("rtn", fx.ModelPath, fx.NewDir("no-data"), null, null, watcher);
        Assert.Equal(1, watcher.Loads);
        Assert.Equal(0, watcher.Exports);
        Assert.Null(result.ReferenceOnnxBytes);
        Assert.Null(result.Report.Evaluation);
    }

    [Fact]
    public void TheReturnedReportAndRecipeAreTheFilesWritten()
    {
        var result = Run("rtn", fx.ModelPath, fx.NewDir("typed"), "digits", null, new Watcher(), "--weight-bits", "4", "--group-size", "32");
        Assert.Equal(ResultJson.Serialize(result.Report) + "\n", File.ReadAllText(Path.Combine(result.OutputDirectory, RunPipeline.ReportFile)));
        Assert.Equal(ResultJson.Serialize(result.Recipe) + "\n", File.ReadAllText(Path.Combine(result.OutputDirectory, RunPipeline.RecipeFile)));
        // One size accounting for the checkpoint and the ONNX model: 4-bit codes and a float scale per 32 weights.
        Assert.Equal(5.0, result.Report.Output.BitsPerWeight);
        Assert.Equal(5.0, result.Report.Output.Onnx!.BitsPerWeight);
        Assert.Equal(64 * 128 + 128 * 64 + 64 * 10, result.Report.Output.CompressedWeights);
        // With --data: the reference export and the evaluation are stages of their own (issue 19: the evaluation was 90 % of a run, untimed).
        Assert.Equal(["load", "reference", "step1:rtn", "onnx", "evaluation", "total"], result.Report.Timings.Keys);
    }
}

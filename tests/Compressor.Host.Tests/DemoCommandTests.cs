using Compressor.Host.Demo;
using Compressor.Sdk;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

public sealed class DemoCommandTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void BuiltInStepsParseForBothModelsAndKeepTheRtnBaseline()
    {
        var vit = DemoPlan.Load(null, "vit");
        Assert.NotNull(vit.Train);
        Assert.Equal("digits", vit.Data);
        Assert.Contains(vit.Steps, s => s.Recipe.Count == 1 && s.Recipe[0].Plugin == "rtn");
        // The list: StatsQ W4A4 and W2A2+CGA, JLCM ~2 and ~3 bits, Sparsity low-rank 50%, a composed recipe.
        Assert.Equal(2, vit.Steps.Count(s => s.Recipe.Any(p => p.Plugin == "statsq")));
        Assert.Contains(vit.Steps, s => s.Recipe.Select(p => p.Plugin).SequenceEqual(["sparsity", "jlcm"]));
        var minilm = DemoPlan.Load(null, "minilm");
        Assert.Equal("minilm", minilm.Pretrained);
        Assert.Contains(DemoPlan.SentencesPlaceholder, minilm.Data);
    }

    [Fact]
    public void QuickOptionsReplaceOptionsOnlyUnderQuick()
    {
        var step = new DemoPluginStep("p", new JObject { ["a"] = 1, ["b"] = 2 }, new JObject { ["b"] = 3 });
        Assert.Equal(2, (int)step.OptionsFor(quick: false)["b"]!);
        Assert.Equal(3, (int)step.OptionsFor(quick: true)["b"]!);
        Assert.Equal(1, (int)step.OptionsFor(quick: true)["a"]!);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("{\"models\": {\"vit\": {\"data\": \"digits\", \"steps\": [{\"name\": \"x\", \"recipe\": [{\"plugin\": \"rtn\"}]}]}}}", "exactly one of")]
    [InlineData("{\"models\": {\"vit\": {\"pretrained\": \"minilm\", \"data\": \"d\", \"steps\": [{\"name\": \"a b\", \"recipe\": [{\"plugin\": \"rtn\"}]}]}}}", "\"name\"")]
    [InlineData("{\"models\": {\"vit\": {\"pretrained\": \"minilm\", \"data\": \"d\", \"steps\": [{\"name\": \"a\", \"recipe\": []}]}}}", "\"recipe\"")]
    public void MalformedStepsFilesAreRejectedInOneLine(string json, string expected)
    {
        var e = Assert.Throws<CompressException>(() => DemoPlan.Parse(json, "steps.json", "vit"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnknownModelIsABadOption()
    {
        var e = Assert.Throws<CompressException>(() => DemoPlan.Load(null, "resnet"));
        Assert.Equal(ErrorKind.InvalidOptions, e.Kind);
    }

    /// <summary>End to end on a small steps file: trains, runs rtn through the run pipeline (export, gate, ORT
    /// evaluation), skips the step whose plugin is missing, and writes the comparison report and summary.</summary>
    [Fact]
    public void DemoTrainsRunsRtnSkipsMissingPluginsAndWritesTheReport()
    {
        string dir = fx.NewDir("demo");
        string steps = Path.Combine(dir, "steps.json");
        File.WriteAllText(steps, """
            {"models": {"vit": {"description": "test", "train": {"architecture": "mlp", "epochs": 3, "quickEpochs": 1}, "data": "digits",
              "steps": [
                {"name": "rtn-w4", "title": "RTN", "recipe": [{"plugin": "rtn", "options": {"weightBits": 4, "groupSize": 16}}]},
                {"name": "needs-x", "title": "X", "recipe": [{"plugin": "rtn"}, {"plugin": "no-such-plugin"}]}
              ]}}}
            """);
        string outDir = Path.Combine(dir, "out");
        var (code, stdout, stderr) = HostFixture.Cli("demo", "--out", outDir, "--quick", "--steps", steps, "-v", "m");
        Assert.True(code == 0, stderr);
        string json = File.ReadAllText(Path.Combine(outDir, DemoReport.JsonFile));
        JsonFields.AssertMatchGolden("demo-report.fields", json, "steps[].headline");   // added within schema version 1
        var report = JObject.Parse(json);
        Assert.Equal("accuracy", (string?)report["primaryMetric"]);
        Assert.Equal(1, (int)report["base"]!["epochs"]!);
        var rows = ((JArray)report["steps"]!).Cast<JObject>().ToDictionary(s => (string)s["name"]!);
        Assert.Equal("ok", (string?)rows["rtn-w4"]["status"]);
        Assert.Equal("skipped", (string?)rows["needs-x"]["status"]);
        Assert.Equal("plugin no-such-plugin not installed", (string?)rows["needs-x"]["reason"]);
        // 4-bit codes with one float scale per 16 weights: 4 + 32/16 = 6 bits per weight.
        Assert.InRange((double)rows["rtn-w4"]["bitsPerWeight"]!, 5.99, 6.01);
        Assert.True((long)rows["rtn-w4"]["onnxBytes"]! < (long)report["fp32"]!["onnxBytes"]!, "the 4-bit ONNX model is not smaller than the FP32 one");
        double accuracy = (double)rows["rtn-w4"]["metrics"]!["accuracy"]!;
        Assert.InRange(accuracy, 0.0, 1.0);
        Assert.True(File.Exists(Path.Combine(outDir, "steps", "rtn-w4", "model.onnx")));
        Assert.False(Directory.Exists(Path.Combine(outDir, "steps", "needs-x")));
        string html = File.ReadAllText(Path.Combine(outDir, DemoReport.HtmlFile));
        Assert.Contains("steps/rtn-w4/report.html", html);
        Assert.Contains("plugin no-such-plugin not installed", html);
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("rtn-w4", stdout);
        Assert.Contains("skipped", stdout);
        Assert.Contains("[3/3] needs-x", stderr);
    }

    [Fact]
    public void CliReferenceInDocsIsUpToDate()
    {
        var (code, stdout, stderr) = HostFixture.Cli("docs", "cli");
        Assert.True(code == 0, stderr);
        Assert.Contains("## `compress demo`", stdout);
        Assert.DoesNotContain("## `compress docs", stdout);
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Compressor.sln"))) dir = Path.GetDirectoryName(dir);
        Assert.True(dir is not null, "repository root not found above the test output");
        string committed = File.ReadAllText(Path.Combine(dir!, "docs", "cli.md"));
        Assert.True(committed == stdout, "docs/cli.md is out of date: regenerate it with 'dotnet run --project host -c Release -- docs cli > docs/cli.md'");
    }

    /// <summary>The real MiniLM (three int64 inputs) evaluated against itself on sentences (no targets): fidelity
    /// metrics only, and identical models agree exactly.</summary>
    [Fact]
    public void EncoderWithThreeInputsIsEvaluatedOnSentencesByFidelity()
    {
        string minilm = Compressor.Engine.Models.Pretrained.PretrainedModels.MiniLm().ModelPath;
        string dir = fx.NewDir("minilm-eval");
        string sentences = Path.Combine(dir, "s.txt");
        File.WriteAllLines(sentences, Enumerable.Range(0, 20).Select(i => $"Sentence number {i} talks about a different topic today."));
        var (code, stdout, stderr) = HostFixture.Cli("eval", minilm, "--reference", minilm, "--data", $"sentences:{sentences},context=16,validation=0.5",
            "--runs", "1", "--batch-size", "4", "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        var metrics = ((JArray)JObject.Parse(stdout)["metrics"]!).Cast<JObject>().ToDictionary(m => (string)m["name"]!);
        Assert.False(metrics.ContainsKey("accuracy"));
        Assert.False(metrics.ContainsKey("perplexity"));
        Assert.InRange((double)metrics["cosine"]["value"]!, 0.999999, 1.000001);
        Assert.Equal(1.0, (double)metrics["top1Agreement"]["value"]!);
    }
}

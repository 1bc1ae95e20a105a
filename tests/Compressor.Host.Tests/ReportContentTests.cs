using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Host.Pipeline;
using Compressor.Host.Reports;
using Compressor.Host.Results;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary>Reports that explain the result: how many samples were evaluated and how long it took, the headline (size
/// ratio, metric change, speed-up with its spread) in the terminal, report.json, report.md and report.html, where the
/// bytes are with the layers left in float32 and what would compress them, float factors reported as such, per-layer
/// error sorted worst first, constant series left unplotted, and step options in a scrollable block.</summary>
public sealed class ReportContentTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static string[] Lines(string text) => text.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

    /// <summary>A tiny GPT (its token and position tables are embeddings) saved with its architecture.</summary>
    private string TinyGpt()
    {
        string path = Path.Combine(fx.NewDir("gpt"), "gpt.safetensors");
        manual_seed(5);
        var spec = ArchitectureRegistry.Spec("gpt", new JObject { ["vocabSize"] = 96, ["context"] = 16, ["dim"] = 32, ["layers"] = 2, ["heads"] = 2, ["mlpRatio"] = 4 });
        using var model = ArchitectureRegistry.CreateModel(spec, HostFixture.Kinds);
        ModelIO.Save(model, path);
        return path;
    }

    private string Text()
    {
        string path = Path.Combine(fx.NewDir("text"), "corpus.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 60)));
        return path;
    }

    [Fact]
    public void TheReportSaysHowManySamplesWereEvaluatedHowLongItTookAndLeadsWithTheHeadline()
    {
        string outDir = fx.NewDir("headline");
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--data", "digits", "--eval-limit", "50", "-v", "q");
        Assert.True(code == 0, stderr);
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        var evaluation = report["evaluation"]!;
        Assert.Equal(50, (long)evaluation["samples"]!);
        long available = (long)evaluation["availableSamples"]!;
        Assert.True(available > 50);
        Assert.Equal(50, (long)evaluation["limit"]!);
        Assert.Contains($"digits/test, 50 of {available} samples (--eval-limit 50)", stdout);
        var timings = (JObject)report["timings"]!;
        foreach (var stage in new[] { "load", "reference", "step1:rtn", "onnx", "evaluation", "total" }) Assert.NotNull(timings[stage]);
        Assert.True((double)timings["evaluation"]! <= (double)timings["total"]!);
        Assert.Contains("evaluation", Lines(stdout).Single(l => l.StartsWith("time", StringComparison.Ordinal)));

        // The speed-up: interleaved runs of both models, with its spread.
        var speedUp = evaluation["speedUp"]!;
        Assert.Equal(20, (int)speedUp["runs"]!);
        Assert.True((double)speedUp["p25"]! <= (double)speedUp["median"]! && (double)speedUp["median"]! <= (double)speedUp["p75"]!);

        var headline = report["headline"]!;
        string text = (string)headline["text"]!;
        long onnxBytes = (long)report["output"]!["onnx"]!["bytesOnDisk"]!, referenceBytes = (long)evaluation["referenceBytes"]!;
        Assert.Equal(Math.Round((double)referenceBytes / onnxBytes, 4), (double)headline["sizeRatio"]!, 4);
        Assert.Matches(@"^\d+\.\d\d× smaller \(model\.onnx [\d.]+ KiB vs [\d.]+ KiB\), accuracy [+−]\d+\.\d\d pt \([\d.]+ % → [\d.]+ %\), \d+\.\d\d× (faster|slower) \(IQR ", text);
        Assert.Equal("accuracy", (string?)headline["metric"]);
        Assert.Contains($"result  {text}", stdout);
        Assert.Contains($"**Result: {text}.**", File.ReadAllText(Path.Combine(outDir, ReportWriter.MarkdownFile)));
        string html = File.ReadAllText(Path.Combine(outDir, ReportWriter.HtmlFile));
        Assert.Contains(System.Net.WebUtility.HtmlEncode(text), html);

        // Where the bytes are: the parts add up to the file.
        var sizes = report["sizes"]!;
        Assert.Equal("model.onnx", (string?)sizes["file"]);
        Assert.Equal(onnxBytes, (long)sizes["totalBytes"]!);
        Assert.Equal(onnxBytes, (long)sizes["compressedBytes"]! + (long)sizes["fp32Bytes"]! + (long)sizes["otherTensorBytes"]! + (long)sizes["overheadBytes"]!);
        Assert.Equal(3, (int)sizes["compressedLayers"]!);
        Assert.Empty((JArray)sizes["fp32Layers"]!);
        Assert.Contains("SIZE OF model.onnx", stdout);
        Assert.Contains("id=\"size-breakdown\"", html);

        // Step options: a scrollable JSON block, not one long line.
        Assert.Contains("<pre class=\"json\">{\n  &quot;weightBits&quot;: 4,", html);
        Assert.Contains("pre.json{", html);
        Assert.Contains("overflow:auto", html);
    }

    [Fact]
    public void EmbeddingsLeftInFloat32AreNamedWithTheSwitchThatCompressesThem()
    {
        string gpt = TinyGpt();
        string outDir = fx.NewDir("fp32-layers");
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", gpt, "--out", outDir, "-v", "q");
        Assert.True(code == 0, stderr);
        var sizes = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)))["sizes"]!;
        var fp32 = ((JArray)sizes["fp32Layers"]!).Cast<JObject>().ToList();
        var wte = fp32.Single(l => ((string)l["name"]!).EndsWith("wte", StringComparison.Ordinal));
        Assert.Equal("embedding", (string?)wte["type"]);
        Assert.Equal(96 * 32 * 4, (long)wte["bytes"]!);
        Assert.Contains("rtn --embeddings compresses them", (string)wte["hint"]!);
        Assert.Equal(fp32.Sum(l => (long)l["bytes"]!), (long)sizes["fp32Bytes"]!);
        Assert.Equal(fp32.OrderByDescending(l => (long)l["bytes"]!).Select(l => (string)l["name"]!), fp32.Select(l => (string)l["name"]!));
        Assert.Contains(Lines(stdout), l => l.StartsWith($"float32 {wte["name"]} (embedding, 12.0 KiB): ", StringComparison.Ordinal) && l.Contains("rtn --embeddings"));
        string html = File.ReadAllText(Path.Combine(outDir, ReportWriter.HtmlFile));
        Assert.Contains(ReportTables.Fp32Title, html);

        // With the switch the position table is compressed and no longer listed; the token table, excluded here (GPT's
        // output head is tied to it), is listed with the selection as the reason.
        string withEmbeddings = fx.NewDir("fp32-wpe");
        var second = HostFixture.Cli("run", "rtn", "--model", gpt, "--out", withEmbeddings, "--embeddings", "--exclude", "transformer.wte", "-v", "q");
        Assert.True(second.Code == 0, second.Err);
        var after = ((JArray)JObject.Parse(File.ReadAllText(Path.Combine(withEmbeddings, RunPipeline.ReportFile)))["sizes"]!["fp32Layers"]!).Cast<JObject>().ToList();
        Assert.DoesNotContain(after, l => ((string)l["name"]!).EndsWith("wpe", StringComparison.Ordinal));
        Assert.Equal("left out by the --include/--exclude of rtn", (string?)after.Single(l => ((string)l["name"]!).EndsWith("wte", StringComparison.Ordinal))["hint"]);
    }

    [Fact]
    public void FloatFactorsAreReportedAsWhatTheyAre()
    {
        string gpt = TinyGpt();
        string outDir = fx.NewDir("factors");
        var (code, stdout, stderr) = HostFixture.Cli("run", "sparsity", "--model", gpt, "--out", outDir, "--data", $"text:{Text()},tokenizer=char,context=16",
            "--structure", "lowrank", "--fraction", "0.5", "--first-layer-dense", "false", "-v", "q");
        Assert.True(code == 0, stderr);
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        var layers = ((JArray)report["layers"]!).Cast<JObject>().ToList();
        Assert.NotEmpty(layers);
        foreach (var l in layers)
        {
            Assert.Equal(32, (int)l["valueBits"]!);
            double share = (double)l["storedShare"]!;
            Assert.InRange(share, 0.49, 0.51);   // --fraction 0.5, honoured within a point (32 → 128: r = 13 keeps 50.8 %)
            Assert.Equal(32 * share, (double)l["bits"]!, 3);
        }
        var kept = report["metrics"]!.Single(m => (string)m["name"]! == "structuredWeightFraction");
        Assert.InRange((double)kept["value"]!, 0.49, 0.51);
        Assert.Contains("no quantized weights: fp32 factors keep 50.8 % of the replaced weights", stdout);
        Assert.Contains("(fp32 × 50.8 %)", stdout);
        Assert.DoesNotContain("bits per compressed weight", Lines(stdout).Single(l => l.StartsWith("output", StringComparison.Ordinal)));
    }

    [Fact]
    public void PerLayerErrorIsSortedWorstFirstAndConstantSeriesAreNotPlotted()
    {
        string outDir = fx.NewDir("plots");
        var run = new RunPipeline(PluginCatalogForTests(), Sdk.Diagnostics.NullPluginLogger.Instance, Sdk.Diagnostics.NullProgressReporter.Instance)
            .Execute(new RunRequest("rtn", fx.ModelPath, outDir, null, null, null, "cpu", ["--weight-bits", "2"], null), CancellationToken.None);
        var worst = ReportPlots.WorstFirst(run.Report.Layers);
        Assert.Equal(run.Report.Layers.Count, worst.Count);
        Assert.Equal(worst.Select(l => l.SqnrDb).Order(), worst.Select(l => l.SqnrDb));

        SeriesResult flat = new("cga/unfrozen", "step", "weights", [0, 1, 2, 3], [0, 0, 0, 0]);
        SeriesResult moving = new("qat/loss", "step", "loss", [0, 1, 2, 3], [2.0, 1.5, 1.2, 1.1]);
        var report = run.Report with { Series = [flat, moving] };
        var plots = ReportPlots.Render(report);
        Assert.Contains(plots, p => p.Id == "series-qat-loss");
        Assert.DoesNotContain(plots, p => p.Id == "series-cga-unfrozen");
        string html = ReportHtml.Render(report, ReportTables.Build(report), plots);
        Assert.Contains("cga/unfrozen is constant at 0 over 4 points (weights per step): not plotted.", html);
        Assert.Contains("cga/unfrozen is constant at 0", ReportMarkdown.Render(report, ReportTables.Build(report), plots));
    }

    private static Plugins.PluginCatalog PluginCatalogForTests() => Plugins.PluginCatalog.Discover(Plugins.PluginCatalog.SearchPath([]));
}

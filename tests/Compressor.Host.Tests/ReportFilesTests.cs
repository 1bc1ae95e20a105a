using System.Text.RegularExpressions;
using Compressor.Host.Pipeline;
using Compressor.Host.Reports;
using Compressor.Host.Results;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary><c>compress run --data</c> evaluates the compressed and the input model on ONNX Runtime into report.json's
/// metrics, and writes report.md and a self-contained report.html with the plots.</summary>
public sealed partial class ReportFilesTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [GeneratedRegex("https?:", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();

    [GeneratedRegex("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"")]
    private static partial Regex EmbeddedPng();

    [Fact]
    public void RunWithDataReportsTheEvaluationAndWritesSelfContainedReports()
    {
        string outDir = fx.NewDir("report-run");
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--data", "digits", "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.Contains("report.html", stdout);

        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        var metrics = report["metrics"]!.ToDictionary(m => (string)m["name"]!, m => (JObject)m);
        foreach (var name in new[] { "accuracy", "cosine", "top1Agreement", "klDivergence", "latencyMedianMs", "latencyP90Ms", "peakMemoryMB" })
        {
            Assert.True(metrics.ContainsKey(name), $"metric {name} missing");
            Assert.Equal("digits/test", (string?)metrics[name]["dataset"]);
            Assert.NotEqual(JTokenType.Null, metrics[name]["reference"]!.Type);
            Assert.NotNull(metrics[name]["unit"]);
        }
        Assert.InRange((double)metrics["cosine"]["value"]!, 0.9, 1.0 + 1e-9);
        Assert.Equal("ORT_ENABLE_ALL", (string?)report["evaluation"]!["runtime"]!["optimizationLevel"]);

        string md = File.ReadAllText(Path.Combine(outDir, ReportWriter.MarkdownFile));
        string html = File.ReadAllText(Path.Combine(outDir, ReportWriter.HtmlFile));
        Assert.DoesNotMatch(ExternalReference(), html);
        var pngs = EmbeddedPng().Matches(html).Select(m => Convert.FromBase64String(m.Groups[1].Value)).ToList();
        Assert.True(pngs.Count >= 4, $"{pngs.Count} embedded plots");
        Assert.All(pngs, p => Assert.Equal(PngMagic, p[..8]));
        foreach (var id in new[] { "metric-accuracy", "metric-latencymedianms", "layer-sqnr", "layer-bytes" })
        {
            Assert.Contains($"id=\"{id}\"", html);
            Assert.Contains($"[{id}]: data:image/png;base64,", md);
        }
        Assert.Contains("| accuracy |", md);
        Assert.Contains("intra-op threads", md);
        Assert.Empty(Directory.GetDirectories(outDir, ".staging-*"));
    }

    [Fact]
    public void RunWithoutDataStillWritesReportsWithoutEvaluation()
    {
        string outDir = fx.NewDir("report-nodata");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "-v", "q");
        Assert.True(code == 0, stderr);
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        Assert.DoesNotContain(report["metrics"]!, m => (string?)m["name"] == "accuracy");
        Assert.Null(report["evaluation"]);
        Assert.Contains("id=\"layer-sqnr\"", File.ReadAllText(Path.Combine(outDir, ReportWriter.HtmlFile)));
        Assert.True(File.Exists(Path.Combine(outDir, ReportWriter.MarkdownFile)));
    }

    [Fact]
    public void EverySeriesBecomesALinePlot()
    {
        var report = new RunReport(RunReport.CurrentSchemaVersion, new ToolInfo("compress", "0.1.0", "2.0.0"), new InputModel("/x/model.safetensors", "00", 1, 1), [], 0,
            new CheckpointOutput(RunPipeline.CheckpointFile, "00", 1, 1, 0, null), null, [], [],
            [
                Series("qat/loss", "epoch", "loss", [1, 2, 3], [2.3, 1.1, 0.7]),
                Series("qat/oscillationEvents", "step", "events", [0, 10, 20], [5, 3, 1]),
                Series("cga/unfrozen", "step", "weights", [0, 10, 20], [100, 40, double.NaN]),
            ],
            new Dictionary<string, double>(), ["a <warning> & more"]);
        var plots = ReportPlots.Render(report);
        Assert.Equal(["series-qat-loss", "series-qat-oscillationevents", "series-cga-unfrozen"], plots.Select(p => p.Id).ToArray());
        string dir = fx.NewDir("report-series");
        ReportWriter.Write(report, dir);
        string html = File.ReadAllText(Path.Combine(dir, ReportWriter.HtmlFile));
        Assert.Equal(3, EmbeddedPng().Matches(html).Count);
        Assert.Contains("a &lt;warning&gt; &amp; more", html);
        Assert.Contains("qat/oscillationEvents (events per step)", html);
    }

    private static SeriesResult Series(string name, string x, string y, double[] xs, double[] ys) =>
        SeriesResult.Of(new Compressor.Sdk.Reports.Series(name, xs, ys, x, y));
}

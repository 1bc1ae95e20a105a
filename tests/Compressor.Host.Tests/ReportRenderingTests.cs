using System.Diagnostics;
using System.Text.RegularExpressions;
using Compressor.Host.Demo;
using Newtonsoft.Json.Linq;
using SkiaSharp;

namespace Compressor.Host.Tests;

/// <summary>Every plot of a run report and of the demo report is drawn (a PNG with content, not a blank canvas), and
/// headless Chromium renders both pages with their plots. The demo here trains a small MLP for one epoch and compresses
/// it with rtn at 8, 4 and 2 bits, so the accuracy-vs-bits scatter has a front.</summary>
public sealed partial class ReportRenderingTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [GeneratedRegex("<figure id=\"([^\"]+)\"><img alt=\"[^\"]*\" src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"")]
    private static partial Regex Figure();

    private static readonly object Gate = new();
    private static string? _demo;

    /// <summary>The demo's output folder (run once for the class).</summary>
    private string Demo()
    {
        lock (Gate)
        {
            if (_demo is not null) return _demo;
            string dir = fx.NewDir("render-demo");
            string steps = Path.Combine(dir, "steps.json");
            File.WriteAllText(steps, """
                {"models": {"vit": {"description": "render test", "train": {"architecture": "mlp", "epochs": 1, "quickEpochs": 1}, "data": "digits",
                  "steps": [
                    {"name": "rtn-w8", "title": "RTN 8-bit", "recipe": [{"plugin": "rtn", "options": {"weightBits": 8}}]},
                    {"name": "rtn-w4", "title": "RTN 4-bit", "recipe": [{"plugin": "rtn", "options": {"weightBits": 4}}]},
                    {"name": "rtn-w2", "title": "RTN 2-bit", "recipe": [{"plugin": "rtn", "options": {"weightBits": 2, "groupSize": 16}}]}
                  ]}}}
                """);
            string outDir = Path.Combine(dir, "out");
            var (code, _, stderr) = HostFixture.Cli("demo", "--out", outDir, "--quick", "--steps", steps, "--eval-limit", "64", "-v", "q");
            Assert.True(code == 0, stderr);
            return _demo = outDir;
        }
    }

    [Fact]
    public void EveryPlotOfTheRunAndDemoReportsIsDrawn()
    {
        string demo = Demo();
        var demoPlots = Plots(Path.Combine(demo, DemoReport.HtmlFile));
        Assert.Contains("demo-pareto", demoPlots.Keys);
        Assert.Contains("demo-primary", demoPlots.Keys);
        var stepPlots = Plots(Path.Combine(demo, "steps", "rtn-w4", "report.html"));
        foreach (var id in new[] { "size-breakdown", "metric-accuracy", "layer-sqnr", "layer-bytes" }) Assert.Contains(id, stepPlots.Keys);
        foreach (var (id, png) in demoPlots.Concat(stepPlots))
        {
            using var bitmap = SKBitmap.Decode(png);
            Assert.True(bitmap is not null, $"{id}: not a PNG");
            var (share, colours) = Ink(bitmap);
            Assert.True(share >= 0.005 && colours >= 3, $"{id} is blank: {share:P2} of its pixels differ from the background, {colours} colours");
        }

        var report = JObject.Parse(File.ReadAllText(Path.Combine(demo, DemoReport.JsonFile)));
        Assert.Equal(3, ((JArray)report["steps"]!).Count);
        Assert.All((JArray)report["steps"]!, s => Assert.Contains("× smaller (model.onnx", (string)s["headline"]!));
    }

    [ChromiumFact]
    public void ChromiumRendersTheRunAndDemoReportsWithTheirPlots()
    {
        string demo = Demo();
        foreach (var page in new[] { Path.Combine(demo, DemoReport.HtmlFile), Path.Combine(demo, "steps", "rtn-w4", "report.html") })
        {
            string shot = Path.Combine(fx.NewDir("shot"), "page.png");
            Screenshot(page, shot, 1200, 2400);
            Assert.True(File.Exists(shot), $"no screenshot of {page}");
            using var bitmap = SKBitmap.Decode(shot);
            Assert.NotNull(bitmap);
            Assert.Equal(1200, bitmap.Width);
            var (share, _) = Ink(bitmap);
            Assert.True(share > 0.02, $"the screenshot of {Path.GetFileName(page)} is nearly blank ({share:P2})");
            // The plots' bars and points (the report's blue, #1f77b4) are on the rendered page, not only text.
            Assert.True(Count(bitmap, new SKColor(0x1f, 0x77, 0xb4)) > 500, $"no plot drawn in the rendering of {page}");
        }
    }

    private static Dictionary<string, byte[]> Plots(string html) =>
        Figure().Matches(File.ReadAllText(html)).ToDictionary(m => m.Groups[1].Value, m => Convert.FromBase64String(m.Groups[2].Value));

    /// <summary>The share of pixels that differ clearly from the most common colour (the background), and how many
    /// distinct colours the image has.</summary>
    private static (double Share, int Colours) Ink(SKBitmap bitmap)
    {
        var pixels = bitmap.Pixels;
        var background = pixels.GroupBy(p => p).MaxBy(g => g.Count())!.Key;
        long ink = pixels.LongCount(p => Math.Abs(p.Red - background.Red) + Math.Abs(p.Green - background.Green) + Math.Abs(p.Blue - background.Blue) > 60);
        return ((double)ink / pixels.Length, pixels.Distinct().Take(100).Count());
    }

    private static long Count(SKBitmap bitmap, SKColor colour) =>
        bitmap.Pixels.LongCount(p => Math.Abs(p.Red - colour.Red) + Math.Abs(p.Green - colour.Green) + Math.Abs(p.Blue - colour.Blue) < 30);

    private static void Screenshot(string page, string png, int width, int height)
    {
        var psi = new ProcessStartInfo(ChromiumFactAttribute.Executable!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", $"--screenshot={png}",
                     $"--window-size={width},{height}", new Uri(page).AbsoluteUri })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("chromium did not finish in 120 s"); }
        Assert.True(p.ExitCode == 0, $"chromium exited {p.ExitCode}: {output.Result} {error.Result}");
    }
}

/// <summary>A fact that needs headless Chromium (Debian: <c>apt-get install -y chromium</c>; <c>.ci/run</c> installs it).
/// It is skipped, saying so, only where no Chromium is on the PATH.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>The Chromium executable on the PATH, or null.</summary>
    public static string? Executable { get; } = Find();

    public ChromiumFactAttribute()
    {
        if (Executable is null) Skip = "headless Chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it): the rendering of report.html is not checked";
    }

    private static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome", "google-chrome-stable" })
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }
}

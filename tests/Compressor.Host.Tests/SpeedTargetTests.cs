using Compressor.Host.Pipeline;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary><c>--target speed</c> end to end: rtn W8A8 on the fixture MLP runs every layer on an integer kernel, the
/// recipe records the target and reruns with it, the report carries the measured speed-up with its spread, and a
/// weight-only export for speed names the layers that fall back to float.</summary>
public sealed class SpeedTargetTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void W8A8RunForSpeedRecordsTheTargetTheKernelsAndTheSpeedUp()
    {
        string outDir = fx.NewDir("speed-run");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--data", "digits", "--target", "speed",
            "--weight-bits", "8", "--group-size", "0", "--activation-bits", "8", "--activation-scheme", "static", "--calibration", "mse", "-v", "q");
        Assert.True(code == 0, stderr);
        var recipe = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.RecipeFile)));
        Assert.Equal("speed", (string?)recipe["target"]);
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        var kernels = (JArray)report["verification"]!["layerKernels"]!;
        Assert.Equal(3, kernels.Count);
        Assert.All(kernels, k => Assert.Equal("integer", (string?)k["form"]));
        Assert.All(kernels, k => Assert.Equal("integer_linear", (string?)k["kind"]));
        Assert.Empty((JArray)report["verification"]!["fallbackLayers"]!);
        var speedUp = report["evaluation"]!["speedUp"]!;
        Assert.True((double)speedUp["p25"]! <= (double)speedUp["median"]! && (double)speedUp["median"]! <= (double)speedUp["p75"]!);
        Assert.True((int)speedUp["runs"]! > 0);

        // The recipe reruns with its target.
        string again = fx.NewDir("speed-rerun");
        var rerun = HostFixture.Cli("run", Path.Combine(outDir, RunPipeline.RecipeFile), "--model", fx.ModelPath, "--out", again, "--data", "digits", "-v", "q");
        Assert.True(rerun.Code == 0, rerun.Err);
        Assert.Equal("speed", (string?)JObject.Parse(File.ReadAllText(Path.Combine(again, RunPipeline.RecipeFile)))["target"]);
    }

    [Fact]
    public void WeightOnlyLayersExportedForSpeedAreNamedAsFallbacks()
    {
        string outDir = fx.NewDir("speed-fallback");
        // 4-bit groups of 24 (not a power of two) have no MatMulNBits fusion: their DQ → MatMul stays a float product.
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--target", "speed", "--weight-bits", "4", "--group-size", "24", "-v", "q");
        Assert.True(code == 0, stderr);
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        var fallback = ((JArray)report["verification"]!["fallbackLayers"]!).Select(t => (string)t!).ToList();
        Assert.NotEmpty(fallback);
        Assert.Contains(((JArray)report["warnings"]!).Select(t => (string)t!), w => w.Contains("--target speed") && w.Contains(fallback[0]));
        Assert.Contains("fell back to float", stdout);
    }

    [Fact]
    public void StaticActivationsWithoutDataAreAnOptionsError()
    {
        string outDir = fx.NewDir("speed-nodata");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--weight-bits", "8", "--group-size", "0", "--activation-bits", "8");
        Assert.Equal(2, code);
        Assert.Contains("error: rtn --activation-scheme static calibrates on data: pass --data", stderr);
        Assert.Empty(Directory.GetFiles(outDir));
    }
}

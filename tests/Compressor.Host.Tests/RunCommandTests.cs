using Compressor.Host.Pipeline;
using Compressor.Host.Results;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Layers.Quantized;
using Compressor.Sdk.Testing;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

public sealed class RunCommandTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static readonly string[] Outputs = [RunPipeline.CheckpointFile, OnnxStage.FileName, RunPipeline.RecipeFile, RunPipeline.ReportFile,
        Reports.ReportWriter.MarkdownFile, Reports.ReportWriter.HtmlFile];

    [Fact]
    public void RtnRewritesTheModelAndWritesCheckpointRecipeAndReport()
    {
        string outDir = fx.NewDir("rtn");
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--weight-bits", "4", "--group-size", "32", "--verbosity", "q");
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        Assert.Contains("layers.0", stdout);
        Assert.Equal(Outputs.Order(), Directory.GetFileSystemEntries(outDir).Select(Path.GetFileName).Order());

        using var model = HostFixture.Load(Path.Combine(outDir, RunPipeline.CheckpointFile));
        foreach (var name in new[] { "layers.0", "layers.2", "layers.4" })
        {
            var q = Assert.IsType<QuantizedLayer>(model.GetLayer(name));
            Assert.Equal(4, q.Bits);
            Assert.Equal(32, q.GroupSize);
        }
        Assert.Equal("rtn", model.Steps.Single().Plugin);

        var recipe = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.RecipeFile)));
        Assert.Equal(InputFile.Sha256Of(fx.ModelPath), (string?)recipe["input"]!["sha256"]);
        Assert.Equal("1.0.0", (string?)recipe["steps"]![0]!["version"]);
        Assert.Equal(4, (int)recipe["steps"]![0]!["options"]!["weightBits"]!);
        Assert.Equal(32, (int)recipe["steps"]![0]!["options"]!["groupSize"]!);
        Assert.Equal(0, (int)recipe["seed"]!);

        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        // 64·128 + 128·64 + 64·10 weights at 4 bits plus one float32 scale per 32 weights: exactly 5 bits per weight.
        Assert.Equal(5.0, (double)report["output"]!["bitsPerWeight"]!, 6);
        long onDisk = (long)report["output"]!["bytesOnDisk"]!, theory = (long)report["output"]!["theoreticalBytes"]!;
        Assert.True(onDisk >= theory && onDisk < theory + 4096, $"{onDisk} bytes on disk vs {theory} theoretical (header allowance 4 KiB)");
        Assert.All(report["layers"]!, l => Assert.True((double)l["sqnrDb"]! > 15, $"{l["name"]}: {l["sqnrDb"]} dB"));
    }

    [Fact]
    public void RecipeRunsAndTheWrittenRecipeReproducesTheSameBytes()
    {
        string recipePath = Path.Combine(fx.NewDir("recipe"), "steps.json");
        File.WriteAllText(recipePath, """
            {"seed": 5, "steps": [
              {"plugin": "rtn", "options": {"weightBits": 8, "groupSize": 0, "include": ["layers.0"]}},
              {"plugin": "rtn", "options": {"weightBits": 2, "scheme": "asymmetric", "clipSearch": true, "exclude": ["layers.0"]}}
            ]}
            """);
        string first = fx.NewDir("first"), second = fx.NewDir("second");
        var a = HostFixture.Cli("run", recipePath, "--model", fx.ModelPath, "--out", first, "-v", "q");
        Assert.True(a.Code == 0, a.Err);
        using (var model = HostFixture.Load(Path.Combine(first, RunPipeline.CheckpointFile)))
        {
            Assert.Equal(8, ((QuantizedLayer)model.GetLayer("layers.0")).Bits);
            Assert.Equal(2, ((QuantizedLayer)model.GetLayer("layers.2")).Bits);
            Assert.Equal(2, model.Steps.Count);
        }
        var b = HostFixture.Cli("run", Path.Combine(first, RunPipeline.RecipeFile), "--model", fx.ModelPath, "--out", second, "-v", "q");
        Assert.True(b.Code == 0, b.Err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(first, RunPipeline.CheckpointFile)), File.ReadAllBytes(Path.Combine(second, RunPipeline.CheckpointFile)));
        Assert.Equal(5, (int)JObject.Parse(File.ReadAllText(Path.Combine(second, RunPipeline.RecipeFile)))["seed"]!);
    }

    [Fact]
    public void APluginThrowingMidRunLeavesPreviousOutputsIntactAndNoNewOnes()
    {
        string outDir = fx.NewDir("throws");
        File.WriteAllText(Path.Combine(outDir, "report.json"), "previous report");
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "mine");
        var (code, stdout, stderr) = HostFixture.Cli("run", "throws-in-run", "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, "-v", "q");
        Assert.Equal((int)ExitCode.PluginFailed, code);
        Assert.Equal("", stdout);
        Assert.Equal("error: plugin 'throws-in-run' failed: InvalidOperationException: run exploded on purpose", stderr.TrimEnd());
        Assert.Equal(["notes.txt", "report.json"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order());
        Assert.Equal("previous report", File.ReadAllText(Path.Combine(outDir, "report.json")));
        Assert.DoesNotContain(Directory.GetDirectories(outDir), d => Path.GetFileName(d).StartsWith(".staging", StringComparison.Ordinal));
    }

    [Fact]
    public void TheSameCommandTwiceGivesTheSameArtefacts()
    {
        string a = fx.NewDir("det-a"), b = fx.NewDir("det-b");
        foreach (var dir in new[] { a, b })
        {
            var r = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "2", "--scheme", "asymmetric", "--clip-search", "-v", "q");
            Assert.True(r.Code == 0, r.Err);
        }
        foreach (var f in new[] { RunPipeline.CheckpointFile, "model.onnx", RunPipeline.RecipeFile })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));
        // The report differs only in its timings (and the folder it names).
        JObject Normalised(string dir)
        {
            var o = JObject.Parse(File.ReadAllText(Path.Combine(dir, RunPipeline.ReportFile)));
            o.Remove("timings");
            foreach (var t in o.Descendants().OfType<JProperty>().Where(p => p.Name.Contains("Ms", StringComparison.Ordinal) || p.Name.Contains("seconds", StringComparison.OrdinalIgnoreCase)).ToList())
                t.Value = JValue.CreateNull();
            return JObject.Parse(o.ToString().Replace(dir, "DIR"));
        }
        Assert.Equal(Normalised(a).ToString(), Normalised(b).ToString());
    }

    [Theory]
    [InlineData("hangs")]
    [InlineData("slow-cooperative")]
    public void APluginPastItsTimeoutIsStoppedWithExitCodeEightAndNoOutput(string plugin)
    {
        string outDir = fx.NewDir("timeout");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, _, stderr) = HostFixture.Cli("run", plugin, "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, "--timeout", "1", "-v", "q");
        Assert.Equal((int)ExitCode.PluginTimedOut, code);
        Assert.Equal($"error: plugin '{plugin}' exceeded --timeout 1 s and was stopped", stderr.TrimEnd());
        Assert.Empty(Directory.GetFiles(outDir));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void APluginThatThrowsUnderATimeoutIsReportedWithItsOwnException()
    {
        string outDir = fx.NewDir("throws-timed");
        var (code, _, stderr) = HostFixture.Cli("run", "throws-in-run", "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, "--timeout", "60", "-v", "q");
        Assert.Equal((int)ExitCode.PluginFailed, code);
        Assert.Equal("error: plugin 'throws-in-run' failed: InvalidOperationException: run exploded on purpose", stderr.TrimEnd());
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public void NonFiniteWeightsAreAHardError()
    {
        string outDir = fx.NewDir("nan");
        var (code, _, stderr) = HostFixture.Cli("run", "writes-nan", "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, "-v", "q");
        Assert.Equal((int)ExitCode.PluginFailed, code);
        Assert.Contains("non-finite values (NaN or Inf) in 'layers.0.weight'", stderr);
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Theory]
    [InlineData(new[] { "--weight-bits", "9" }, 2, "option --weight-bits of plugin 'rtn': '9' is not allowed (one of 2, 3, 4, 5, 6, 7, 8)")]
    [InlineData(new[] { "--group-siz", "3" }, 2, "unknown option --group-siz for plugin 'rtn'")]
    [InlineData(new[] { "--include", "nothing.*" }, 2, "no linear or conv layer matches")]
    [InlineData(new[] { "--device", "cuda" }, 2, "pass --device cpu")]
    [InlineData(new[] { "--arch", "resnet1000" }, 2, "unknown architecture 'resnet1000'")]
    public void BadArgumentsGiveOneLineAndExitCode(string[] extra, int expected, string message)
    {
        string outDir = fx.NewDir("bad");
        var (code, _, stderr) = HostFixture.Cli(["run", "rtn", "--model", fx.ModelPath, "--out", outDir, "-v", "q", .. extra]);
        Assert.Equal(expected, code);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains(message, stderr);
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public void BadInputFilesExitThree()
    {
        string dir = fx.NewDir("inputs");
        string garbage = Path.Combine(dir, "garbage.safetensors");
        File.WriteAllText(garbage, "this is not a checkpoint");
        string recipe = Path.Combine(dir, "bad.json");
        File.WriteAllText(recipe, """{"steps": [{"plugin": "rtn", "options": {"weightBits": "many"}}]}""");
        string empty = Path.Combine(dir, "empty.json");
        File.WriteAllText(empty, """{"steps": []}""");
        foreach (var (args, code, fragment) in new (string[], int, string)[]
                 {
                     (["run", "rtn", "--model", Path.Combine(dir, "missing.safetensors"), "--out", fx.NewDir("o")], 3, "no such file"),
                     (["run", "rtn", "--model", garbage, "--out", fx.NewDir("o")], 3, "unrecognised checkpoint format"),
                     (["run", recipe, "--model", fx.ModelPath, "--out", fx.NewDir("o")], 2, "option weightBits of recipe step 1 ('rtn')"),
                     (["run", empty, "--model", fx.ModelPath, "--out", fx.NewDir("o")], 3, "\"steps\" must be a non-empty array"),
                     (["run", "rtn", "--model", fx.ModelPath], 2, "--out"),
                 })
        {
            var r = HostFixture.Cli([.. args, "-v", "q"]);
            Assert.True(code == r.Code, $"{string.Join(' ', args)} → {r.Code}: {r.Err}");
            Assert.Contains(fragment, r.Err);
            Assert.Single(r.Err.TrimEnd().Split('\n'));
        }
    }

    [Fact]
    public void WeightsOnlyCheckpointIsCompressedByADataFreePlugin()
    {
        string dir = fx.NewDir("foreign");
        string path = Path.Combine(dir, "foreign.safetensors");
        using (var m = TinyModels.Mlp(seed: 4)) SafetensorsWriter.Write(path, m.NamedTensors());
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", path, "--out", Path.Combine(dir, "out"), "--weight-bits", "8", "-v", "q");
        Assert.True(code == 0, stderr);
        using var back = HostFixture.Load(Path.Combine(dir, "out", RunPipeline.CheckpointFile));
        Assert.False(back.IsExecutable);
        Assert.IsType<QuantizedLayer>(back.GetLayer("layers.2"));
    }

    [Fact]
    public void JsonFormatPrintsTheReport()
    {
        string outDir = fx.NewDir("json");
        var (code, stdout, _) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--format", "json", "-v", "q");
        Assert.Equal(0, code);
        var o = JObject.Parse(stdout);
        Assert.Equal(Outputs.Length, ((JArray)o["files"]!).Count);
        Assert.Equal(1, (int)o["report"]!["schemaVersion"]!);
    }
}

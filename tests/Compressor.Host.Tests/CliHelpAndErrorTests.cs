using Compressor.Engine.Options;
using Compressor.Host.Pipeline;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary>Errors and help that say how to fix it: every parse error with suggestions, <c>run PLUGIN --help</c>
/// listing the plugin's options, file-type and device errors in our words, <c>train</c>'s architectures, no line for a
/// step that did not run, and former option names that still work with a warning.</summary>
public sealed class CliHelpAndErrorTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static string[] Lines(string text) => text.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

    [Fact]
    public void AMistypedCommandGetsEveryErrorAndADidYouMean()
    {
        var (code, stdout, stderr) = HostFixture.Cli("plugn");
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.Equal("", stdout);
        var lines = Lines(stderr);
        Assert.Equal(2, lines.Length);   // System.CommandLine found two: the unknown token and the missing command
        Assert.All(lines, l => Assert.StartsWith("error: ", l));
        Assert.Equal("error: unknown command 'plugn' (did you mean 'plugin'?)", lines[0]);
        Assert.StartsWith("error: 'compress' needs a command: plugin, run, train", lines[1]);
        Assert.EndsWith("(see 'compress --help')", lines[1]);
    }

    [Theory]
    [InlineData(new[] { "plugin", "descrbe", "rtn" }, "unknown command 'descrbe' for 'compress plugin' (did you mean 'describe'?)")]
    [InlineData(new[] { "plugin", "list", "--verbosty", "q" }, "unknown option '--verbosty' for 'compress plugin list' (did you mean '--verbosity'?)")]
    [InlineData(new[] { "run", "rtn", "--modle", "m.safetensors", "--out", "o" }, "unknown option '--modle' for 'compress run' (did you mean '--model'?)")]
    public void UnknownOptionsAndCommandsAreNamedWithTheNearestKnownOne(string[] args, string expected)
    {
        var (code, _, stderr) = HostFixture.Cli(args);
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.Contains("error: " + expected, Lines(stderr).Select(l => l.Split(" (see '")[0]));
    }

    [Fact]
    public void AMistypedPluginOptionIsNamedWithTheNearestOne()
    {
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", fx.NewDir("typo"), "--weight-bts", "4", "-v", "q");
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.StartsWith("error: unknown option --weight-bts for plugin 'rtn': did you mean --weight-bits?", stderr);
    }

    [Fact]
    public void RunPluginHelpListsThePluginsOptionsAsDescribeDoes()
    {
        var help = HostFixture.Cli("run", "rtn", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("compress run rtn --model PATH --out DIR [options] [rtn options]", help.Out);
        Assert.DoesNotContain("additional arguments", help.Out, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("--max-memory", help.Out);   // run's own options are still there
        var describe = HostFixture.Cli("plugin", "describe", "rtn");
        var table = Lines(describe.Out).SkipWhile(l => !l.StartsWith("OPTION", StringComparison.Ordinal)).ToList();
        Assert.True(table.Count > 5, describe.Out);
        foreach (var row in table) Assert.Contains(row, help.Out);

        var unknown = HostFixture.Cli("run", "rtm", "--help");
        Assert.Contains("no plugin 'rtm'", unknown.Out);
        Assert.Contains("(did you mean 'rtn'?)", unknown.Out);
        var bare = HostFixture.Cli("run", "--help");
        Assert.Equal(0, bare.Code);
        Assert.Contains("'compress run PLUGIN --help' lists them", bare.Out);
    }

    [Fact]
    public void EvalOfACheckpointSaysWhatItIsAndWhatToRunFirst()
    {
        var (code, _, stderr) = HostFixture.Cli("eval", fx.ModelPath, "--data", "digits", "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, code);
        Assert.Equal($"error: {fx.ModelPath} is a safetensors checkpoint; 'eval' takes an ONNX model: run 'compress export {fx.ModelPath} --out model.onnx' first", stderr.TrimEnd());
        string text = Path.Combine(fx.NewDir("eval-text"), "notes.onnx");
        File.WriteAllText(text, "just some words");
        var other = HostFixture.Cli("eval", text, "--data", "digits", "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, other.Code);
        Assert.Contains("is not an ONNX model", other.Err);
        Assert.DoesNotContain("Protobuf", other.Err);
    }

    [Theory]
    [InlineData(false, true, "this compress carries the CPU build of libtorch, which cannot use the NVIDIA GPU", "-p:TorchBackend=cuda-12.8")]
    [InlineData(false, false, "no NVIDIA GPU driver was found", "pass --device cpu")]
    [InlineData(true, false, "install the NVIDIA driver", "pass --device cpu")]
    [InlineData(true, true, "libtorch sees no usable GPU", "nvidia-smi")]
    public void DeviceErrorsSayWhatToInstall(bool cudaLibtorch, bool driver, string what, string fix)
    {
        string message = DeviceSelector.NoCudaMessage("cuda", cudaLibtorch, driver);
        Assert.StartsWith("--device cuda: ", message);
        Assert.Contains(what, message);
        Assert.Contains(fix, message);
        Assert.DoesNotContain("rebuild", message);
    }

    [Fact]
    public void ThisMachinesDeviceErrorMatchesWhatIsInstalled()
    {
        // The test host carries the CPU libtorch; the message must say so (and whether a driver is there).
        Assert.False(DeviceSelector.CudaLibtorchPresent());
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", fx.NewDir("cuda"), "--device", "cuda", "-v", "q");
        if (TorchSharp.torch.cuda.is_available()) return;
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.Equal("error: " + DeviceSelector.NoCudaMessage("cuda", false, DeviceSelector.NvidiaDriverPresent()), stderr.TrimEnd());
    }

    [Fact]
    public void TrainListsAndAcceptsOnlyTrainableArchitectures()
    {
        var help = HostFixture.Cli("train", "--help");
        string line = Lines(help.Out).Single(l => l.TrimStart().StartsWith("<arch>", StringComparison.Ordinal));
        Assert.DoesNotContain("onnx", line);
        foreach (var name in new[] { "mlp", "cnn", "vit", "gpt", "vit-digits", "llama", "llama-tiny" }) Assert.Contains(name, line);
        var onnx = HostFixture.Cli("train", "onnx", "--data", "digits", "--out", fx.NewDir("t"), "-v", "q");
        Assert.Equal((int)ExitCode.InvalidArguments, onnx.Code);
        Assert.Contains("cannot be trained by 'compress train'", onnx.Err);
        var typo = HostFixture.Cli("train", "vti", "--data", "digits", "--out", fx.NewDir("t"), "-v", "q");
        Assert.Contains("unknown architecture 'vti' (did you mean 'vit'?)", typo.Err);
        Assert.DoesNotContain("onnx", typo.Err);
    }

    [Fact]
    public void ARunWithoutDataPrintsNoEvaluationLine()
    {
        // Found at c7f510b: every run without --data printed an empty 'eval' line.
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", fx.NewDir("noeval"), "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain(Lines(stdout), l => l.StartsWith("eval", StringComparison.Ordinal));
        Assert.DoesNotContain(Lines(stdout), l => l.Trim().Length == 0);
        Assert.DoesNotContain("evaluation", Lines(stdout).Single(l => l.StartsWith("time", StringComparison.Ordinal)));
    }

    [Fact]
    public void FormerOptionNamesStillWorkWithAWarningAndTheRecipeUsesTheNewOnes()
    {
        string recipe = Path.Combine(fx.NewDir("alias"), "old.json");
        File.WriteAllText(recipe, """{"steps": [{"plugin": "jlcm", "options": {"bits": 3, "lr": 0.01, "iterations": 2, "calibrationSamples": 16}}]}""");
        string outDir = fx.NewDir("alias-out");
        var (code, _, stderr) = HostFixture.Cli("run", recipe, "--model", fx.ModelPath, "--out", outDir, "--data", "digits,limit=100", "-v", "m");
        Assert.True(code == 0, stderr);
        Assert.Contains("warning: recipe step 1 ('jlcm'): option \"bits\" is now \"weightBits\"", stderr);
        Assert.Contains("option \"lr\" is now \"learningRate\"", stderr);
        var options = (JObject)JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.RecipeFile)))["steps"]![0]!["options"]!;
        Assert.Equal(3, (int)options["weightBits"]!);
        Assert.Equal(0.01, (double)options["learningRate"]!);
        Assert.Null(options["bits"]);

        var describe = HostFixture.Cli("plugin", "describe", "jlcm");
        Assert.DoesNotContain("--bits ", describe.Out);
        Assert.DoesNotContain("--lr ", describe.Out);
        Assert.Contains("--weight-bits", describe.Out);
    }

    [Fact]
    public void EveryPluginUsesTheSharedNamesForSharedConcepts()
    {
        // docs/writing-a-plugin.md, "Option names": a learning rate is --learning-rate, a weight bit width --weight-bits.
        var json = JObject.Parse(HostFixture.Cli("plugin", "list", "--format", "json").Out);
        foreach (var id in json["plugins"]!.Select(p => (string)p["id"]!))
        {
            var flags = JObject.Parse(HostFixture.Cli("plugin", "describe", id, "--format", "json").Out)["options"]!.Select(o => (string)o["flag"]!).ToList();
            Assert.DoesNotContain(flags, f => f is "--lr" or "--act-bits" or "--min-lr" or "--codebook-lr");
            Assert.DoesNotContain(flags, f => f.EndsWith("-lr", StringComparison.Ordinal));
        }
    }
}

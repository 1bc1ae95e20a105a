using Compressor.Host.Pipeline;

using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary>The built-in ViT and GPT export to ONNX through <c>compress run</c> and pass the verification gate.</summary>
public sealed class TransformerExportTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private string Save(string arch, JObject config)
    {
        manual_seed(3);
        var spec = ArchitectureRegistry.Spec(arch, config);
        using var model = ArchitectureRegistry.CreateModel(spec);
        string path = Path.Combine(fx.NewDir(arch), "model.safetensors");
        ModelIO.Save(model, path);
        return path;
    }

    [Theory]
    [InlineData("vit", """{"imageSize": 8, "patchSize": 4, "dim": 32, "depth": 2, "heads": 2}""")]
    [InlineData("vit", """{"imageSize": 8, "patchSize": 2, "dim": 32, "depth": 1, "heads": 4, "distilled": true}""")]
    [InlineData("gpt", """{"vocabSize": 40, "context": 24, "dim": 32, "layers": 2, "heads": 2}""")]
    public void QuantizedTransformersExportAndMatchOnnxRuntime(string arch, string config)
    {
        string model = Save(arch, JObject.Parse(config));
        string outDir = fx.NewDir(arch + "-rtn");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", model, "--out", outDir, "--weight-bits", "4", "--group-size", "16", "-v", "q");
        Assert.True(code == 0, stderr);
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        var v = (JObject)report["verification"]!;
        Assert.True((bool)v["loads"]!);
        Assert.True((bool)v["compatible"]!);
        // Exact at ORT_ENABLE_BASIC up to float reassociation: ≥ 100 dB measured, 40 dB is the gate.
        Assert.True((double)v["sqnrDb"]! > 100, $"{arch}: parity {v["sqnrDb"]} dB");
        Assert.Contains("com.microsoft.MatMulNBits", v["fusedKernels"]!.Select(k => (string)k!));
        Assert.True(File.Exists(Path.Combine(outDir, "model.onnx")));
        // The causal mask is built in the graph for the current length (Trilu), not stored: a stored 4096² float mask
        // per layer made a 30k-weight GPT a 134 MB file. Its weights and graph need well under 1 MB.
        long bytes = new FileInfo(Path.Combine(outDir, "model.onnx")).Length;
        Assert.True(bytes < 1 << 20, $"{arch}: model.onnx is {bytes:N0} bytes");
    }
}

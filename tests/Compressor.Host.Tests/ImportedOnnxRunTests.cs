using Compressor.Host.Pipeline;
using Compressor.Engine.Models.Pretrained;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary><c>compress run rtn --model model.onnx</c> on the real MiniLM (an imported graph with three int64 inputs)
/// writes a model.onnx that re-emits the original graph with the quantized layers lowered, and passes the gate.</summary>
public sealed class ImportedOnnxRunTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void RtnOnMiniLmWritesAVerifiedModelOnnx()
    {
        string model = PretrainedModels.MiniLm().ModelPath;
        string outDir = fx.NewDir("minilm-run");
        var (code, _, stderr) = HostFixture.Cli(["run", "rtn", "--model", model, "--out", outDir, "-v", "q", "--weight-bits", "4", "--group-size", "32"]);
        Assert.True(code == 0, stderr);
        string onnxPath = Path.Combine(outDir, OnnxStage.FileName);
        Assert.True(File.Exists(onnxPath));
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        var onnx = (JObject)report["output"]!["onnx"]!;
        Assert.Equal(21, (int)onnx["opset"]!);
        Assert.Equal((long)onnx["compressedTheoreticalBytes"]!, (long)onnx["compressedTensorBytes"]!);
        var v = (JObject)report["verification"]!;
        Assert.True((bool)v["passed"]!);
        Assert.True((double)v["sqnrDb"]! > 100, $"BASIC parity {(double)v["sqnrDb"]!} dB");
        Assert.Contains("com.microsoft.MatMulNBits", v["fusedKernels"]!.Values<string>());
        Assert.Equal(37, (int)v["fusedKernelCounts"]!["com.microsoft.MatMulNBits"]!);
    }
}

using Compressor.Host.Pipeline;
using Compressor.Host.Results;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Sdk.Testing;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary><c>compress run</c> writes a verified model.onnx; <c>compress export</c> does the same for a checkpoint;
/// a failed gate exits 7 and leaves nothing.</summary>
public sealed class OnnxExportTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private (string OutDir, JObject Report) RunRtn(params string[] extra)
    {
        string outDir = fx.NewDir("onnx-run");
        var (code, _, stderr) = HostFixture.Cli(["run", "rtn", "--model", fx.ModelPath, "--out", outDir, "-v", "q", .. extra]);
        Assert.True(code == 0, stderr);
        return (outDir, JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile))));
    }

    [Fact]
    public void RunWritesAVerifiedModelOnnxAndReportsIt()
    {
        var (outDir, report) = RunRtn("--weight-bits", "4", "--group-size", "32");
        string onnxPath = Path.Combine(outDir, OnnxStage.FileName);
        Assert.True(File.Exists(onnxPath));

        var output = (JObject)report["output"]!;
        Assert.Equal(RunPipeline.CheckpointFile, (string?)output["checkpoint"]);   // the checkpoint's fields stay
        var onnx = (JObject)output["onnx"]!;
        Assert.Equal("model.onnx", (string?)onnx["file"]);
        Assert.Equal(InputFile.Sha256Of(onnxPath), (string?)onnx["sha256"]);
        Assert.Equal(new FileInfo(onnxPath).Length, (long)onnx["bytesOnDisk"]!);
        Assert.Equal(21, (int)onnx["opset"]!);
        Assert.Equal(5.0, (double)onnx["bitsPerWeight"]!, 6);
        Assert.Equal((long)onnx["compressedTheoreticalBytes"]!, (long)onnx["compressedTensorBytes"]!);
        long onDisk = (long)onnx["bytesOnDisk"]!, theory = (long)onnx["theoreticalBytes"]!;
        Assert.True(onDisk >= theory && onDisk < theory + 4096, $"{onDisk} bytes on disk vs {theory} theoretical (graph allowance 4 KiB)");

        var v = (JObject)report["verification"]!;
        Assert.Equal("1.31.1", (string?)v["ortVersion"]);
        Assert.Equal(21, (int)v["opset"]!);
        Assert.Equal("ORT_ENABLE_BASIC", (string?)v["optimizationLevel"]);
        Assert.True((bool)v["loads"]!);
        Assert.True((bool)v["compatible"]!);
        Assert.True((bool)v["passed"]!);
        Assert.True((double)v["sqnrDb"]! > 100, $"parity {v["sqnrDb"]} dB");
        Assert.True((double)v["maxAbsError"]! < 1e-5);
        Assert.Contains("com.microsoft.MatMulNBits", v["fusedKernels"]!.Select(t => (string)t!));
        Assert.Equal(3, (int)v["fusedKernelCounts"]!["com.microsoft.MatMulNBits"]!);
        Assert.All(v["layers"]!, l => Assert.Equal((long)l["theoreticalBytes"]!, (long)l["bytes"]!));
        Assert.Equal(["layers.0", "layers.2", "layers.4"], v["layerOutputs"]!.Select(l => (string)l["name"]!));
        Assert.All(v["layerOutputs"]!, l => Assert.True(l["sqnrDb"]!.Type == JTokenType.Null || (double)l["sqnrDb"]! > 100, $"{l["name"]}: {l["sqnrDb"]} dB"));
    }

    [Fact]
    public void ExportCommandWritesTheSameBytesAsRun()
    {
        var (outDir, report) = RunRtn("--weight-bits", "2", "--group-size", "16", "--scheme", "asymmetric");
        Assert.Equal(25, (int)report["output"]!["onnx"]!["opset"]!);
        string target = Path.Combine(fx.NewDir("export"), "exported.onnx");
        var (code, stdout, stderr) = HostFixture.Cli("export", Path.Combine(outDir, RunPipeline.CheckpointFile), "--out", target, "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.Contains("verify  ONNX Runtime 1.31.1", stdout);
        Assert.Equal(File.ReadAllBytes(Path.Combine(outDir, OnnxStage.FileName)), File.ReadAllBytes(target));
        Assert.Equal(["exported.onnx"], Directory.GetFileSystemEntries(Path.GetDirectoryName(target)!).Select(Path.GetFileName));
    }

    [Fact]
    public void ExportJsonCarriesOnnxAndVerification()
    {
        string fp32 = Path.Combine(fx.NewDir("fp32"), "model.onnx");
        var (code, stdout, stderr) = HostFixture.Cli("export", fx.ModelPath, "--out", fp32, "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        var o = JObject.Parse(stdout);
        Assert.Equal(1, (int)o["schemaVersion"]!);
        Assert.Equal(JTokenType.Null, o["onnx"]!["bitsPerWeight"]!.Type);
        Assert.True((bool)o["verification"]!["passed"]!);
        Assert.Empty((JArray)o["verification"]!["layers"]!);
    }

    [Fact]
    public void ExportRefusesAnOpsetBelowWhatTheWeightsNeed()
    {
        var (outDir, _) = RunRtn("--weight-bits", "4", "--group-size", "32");
        string dir = fx.NewDir("opset");
        var (code, _, stderr) = HostFixture.Cli("export", Path.Combine(outDir, RunPipeline.CheckpointFile), "--out", Path.Combine(dir, "m.onnx"), "--opset", "19", "-v", "q");
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.Contains("needs ai.onnx opset 21", stderr);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public void WeightsOnlyModelsSkipTheExportWithAWarning()
    {
        string dir = fx.NewDir("foreign");
        string path = Path.Combine(dir, "foreign.safetensors");
        using (var m = TinyModels.Mlp(seed: 4)) SafetensorsWriter.Write(path, m.NamedTensors());
        string outDir = Path.Combine(dir, "out");
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", path, "--out", outDir, "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.False(File.Exists(Path.Combine(outDir, OnnxStage.FileName)));
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        Assert.Equal(JTokenType.Null, report["verification"]!.Type);
        Assert.Null(report["output"]!["onnx"]);
        Assert.Contains(report["warnings"]!, w => ((string)w!).Contains("ONNX export skipped: the model is weights-only"));
        Assert.Contains("warning: ONNX export skipped", stdout);

        var e = HostFixture.Cli("export", Path.Combine(outDir, RunPipeline.CheckpointFile), "--out", Path.Combine(dir, "m.onnx"), "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, e.Code);
        Assert.Contains("weights-only", e.Err);
        Assert.False(File.Exists(Path.Combine(dir, "m.onnx")));
    }

    [Fact]
    public void AFailedGateExitsSevenAndLeavesNoOutputs()
    {
        string outDir = fx.NewDir("fake");
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "mine");
        var (code, stdout, stderr) = HostFixture.Cli("run", "fake-quant", "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, "-v", "q");
        Assert.Equal((int)ExitCode.VerificationFailed, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains("verification of the ONNX model failed: 'layers.0' takes 32768 bytes in the file, 8.000× its theoretical 4096", stderr);
        // Files: only what was there (the .work folder of resumable plugin state stays after a failure, by design).
        Assert.Equal(["notes.txt"], Directory.GetFiles(outDir).Select(Path.GetFileName));
        Assert.DoesNotContain(Directory.GetDirectories(outDir), d => Path.GetFileName(d).StartsWith(".staging", StringComparison.Ordinal));
    }
}

using Compressor.Tests.Shared;
using System.Diagnostics;
using Compressor.Samples.RoundToNearest;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Samples.RoundToNearest.Algorithm;

namespace RoundToNearest.Tests;

/// <summary>The real ResNet18 featurizer (CNTK export, opset 8: BatchNormalization with <c>spatial</c>, asymmetric
/// pads) re-exported as its own graph, in FP32 and with rtn's 8-bit per-channel convs (which raise the opset to 13).</summary>
public sealed class ResNet18ReexportTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("resnet-reexport-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A deterministic 224×224 input in the model's input space (BGR planes minus the mean image): a smooth colour pattern.</summary>
    private static Tensor Input()
    {
        using var scope = NewDisposeScope();
        var y = linspace(-1, 1, 224).reshape(1, 1, 224, 1);
        var x = linspace(-1, 1, 224).reshape(1, 1, 1, 224);
        var c = arange(3).reshape(1, 3, 1, 1).to_type(ScalarType.Float32);
        return scope.MoveToOuter(80 * sin(3 * x + 2 * c) * cos(4 * y - c) + 20 * (x - y));
    }

    [Fact]
    public void Fp32AndRtn8BitConvsReexportAndKeepTheFeatures()
    {
        string path = PretrainedModels.ResNet18();
        using var input = Input();
        var feed = new Dictionary<string, Tensor> { ["Input247"] = input };
        var reference = OrtRunner.Run(path, feed, GraphOptimizationLevel.ORT_ENABLE_BASIC);
        using var fp = reference["Pooling395_Output_0"];

        using var model = ModelIO.Load(path, RtnKinds.All);
        var watch = Stopwatch.StartNew();
        var fp32 = OnnxExporter.Export(model, Path.Combine(_dir, "fp32.onnx"), RtnKinds.All);
        output.WriteLine($"FP32 re-export: opset {fp32.Opset} (original 8), {fp32.BytesOnDisk} bytes (original {new FileInfo(path).Length}), {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(13, fp32.Opset);
        var ours = OrtRunner.Run(fp32.ModelPath, feed, GraphOptimizationLevel.ORT_ENABLE_BASIC);
        using (var f = ours["Pooling395_Output_0"])
        {
            double maxAbs = (f - fp).abs().max().item<float>();
            output.WriteLine($"FP32 re-export vs ORT on the original: max abs {maxAbs:E2} (|features| max {fp.abs().max().item<float>():F2})");
            Assert.True(maxAbs <= 1e-4, $"max abs {maxAbs}");
        }

        new RtnPlugin().Run(new PluginContext { Model = model, Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = new ReportBuilder() },
            new RtnOptions { WeightBits = 8, GroupSize = 0 });
        watch.Restart();
        var export = OnnxExporter.Export(model, Path.Combine(_dir, "rtn8.onnx"), RtnKinds.All);
        double exportSeconds = watch.Elapsed.TotalSeconds;
        Assert.Equal(22, export.CompressedLayers.Count);
        double ratio = (double)export.CompressedTensorBytes / export.CompressedTheoreticalBytes;
        Assert.True(ratio <= 1.02, $"compressed tensors take {ratio:F4}× theory");
        var verification = OnnxVerifier.Verify(model, export);
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));

        var quantized = OrtRunner.Run(export.ModelPath, feed, GraphOptimizationLevel.ORT_ENABLE_ALL);
        using var q = quantized["Pooling395_Output_0"];
        double cosine = nn.functional.cosine_similarity(q.flatten(), fp.flatten(), 0).item<float>();
        output.WriteLine($"rtn 8-bit per-channel convs: opset {export.Opset}, file {export.BytesOnDisk} bytes, compressed tensors {export.CompressedTensorBytes} / theory {export.CompressedTheoreticalBytes} ({ratio:F4}×), export {exportSeconds:F2} s");
        output.WriteLine($"gate: BASIC max abs {verification.MaxAbsError:E2} ({verification.SqnrDb:F1} dB), ALL {verification.OptimizedMaxAbsError:E2} ({verification.OptimizedSqnrDb:F1} dB), " +
                         $"fused [{string.Join(", ", verification.FusedKernelCounts.Select(kv => $"{kv.Key} ({kv.Value})"))}]; feature cosine vs FP32 (ORT_ENABLE_ALL) {cosine:F6}");
        Assert.True(cosine >= 0.999, $"feature cosine {cosine}");
    }
}

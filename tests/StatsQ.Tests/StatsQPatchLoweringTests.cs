using Compressor.Engine.Onnx.Export;
using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Layers;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Onnx;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace StatsQ.Tests;

/// <summary>The speed form of a patch embedding (a StatsQ convolution whose stride equals its kernel, no padding): it
/// runs as non-overlapping patches on MatMulIntegerToFloat, and equals the TorchSharp layer, including Conv's floor for
/// an image whose sides are not whole patches.</summary>
public sealed class StatsQPatchLoweringTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>The input codes are the layer's own (QuantizeLinear divides by the same scale), the integer sums are
    /// exact, and only the order of the float scaling differs (s·step applied at once instead of s, then step): ~1 ulp
    /// per output, &gt; 100 dB on this layer; 60 dB fails on a wrong patch order (a transposed kernel: ~0 dB) or a
    /// wrong scale.</summary>
    private const double ParityDb = 60;

    [Theory]
    [InlineData(8, 8, 4)]   // whole patches
    [InlineData(9, 11, 4)]  // Conv drops the last row and the last 3 columns
    [InlineData(9, 9, 8)]   // 8-bit kernel codes: no Cast
    public void PatchEmbeddingRunsOnTheFusedKernelAndEqualsTheLayer(int height, int width, int bits)
    {
        manual_seed(11);
        var input = new FrozenActivationQuantizer([], 8, signed: true, 0);
        var layer = new StatsQConv2d(1, 8, [2, 2], [2, 2], [0, 0], bits, hasBias: true, input);
        using (no_grad())
        {
            int n = 1 << (bits - 1);
            layer.SetState(randint(-n, n, [8, 1, 2, 2], dtype: ScalarType.Int32), rand(8).add(0.1).mul(0.05), randn(8));
            input.Scale.fill_(0.02);
        }
        using var model = TinyModels.Cnn(seed: 1, kinds: new StatsQPlugin().LayerKinds);
        model.ReplaceLayer("convs.0", layer);
        string path = Path.Combine(Path.GetTempPath(), $"statsq-patch-{Guid.NewGuid():N}.onnx");
        string optimized = path + ".opt.onnx";
        try
        {
            OnnxExporter.Export(model, path, StatsQTestKinds.All, new OnnxExportOptions { Target = ExportTarget.Speed });
            using var x = TinyModels.Inputs([4, 1, height, width], seed: 2);
            using var reference = model.Forward(x);
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1, OptimizedModelFilePath = optimized, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            string inputName;
            using (var session = new InferenceSession(path, options)) inputName = session.InputMetadata.Keys.First();
            using var ort = OrtRunner.Run(path, inputName, x, GraphOptimizationLevel.ORT_ENABLE_ALL);
            double db = Sqnr.Db(reference, ort);
            var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.Select(node => node.OpType).ToList();
            output.WriteLine($"{height}×{width}, {bits}-bit: {db:F1} dB; {string.Join(", ", ops.Distinct())}");
            Assert.Contains("MatMulIntegerToFloat", ops);
            Assert.DoesNotContain("ConvInteger", ops);
            Assert.True(db >= ParityDb, $"{db:F1} dB < {ParityDb} dB");
        }
        finally
        {
            File.Delete(path);
            File.Delete(optimized);
        }
    }
}

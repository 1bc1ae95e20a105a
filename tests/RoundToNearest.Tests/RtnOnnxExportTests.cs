using Compressor.Samples.RoundToNearest;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Xunit.Abstractions;
using Compressor.Samples.RoundToNearest.Algorithm;

namespace RoundToNearest.Tests;

/// <summary>rtn's output exported to ONNX: the file shrinks to theory and ORT fuses the 4-bit weights into MatMulNBits.</summary>
public sealed class RtnOnnxExportTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rtn-onnx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(4, 32, QuantScheme.Symmetric)]
    [InlineData(4, 32, QuantScheme.Asymmetric)]
    [InlineData(8, 0, QuantScheme.Symmetric)]
    [InlineData(2, 64, QuantScheme.Asymmetric)]
    public void QuantizedMlpExportsAtTheoreticalSizeAndFuses(int bits, int groupSize, QuantScheme scheme)
    {
        // ReLU MLP (the Max(x, 0) form after compressed layers lets ORT fuse all three layers).
        // Every K (256, 512, 256) is a multiple of the block size, so blocks are whole and MatMulNBits applies.
        using var model = TinyModels.Mlp(seed: 8, inputs: 256, hidden: [512, 256], outputs: 32, kinds: new RtnPlugin().LayerKinds);
        new RtnPlugin().Run(new PluginContext { Model = model, Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = new ReportBuilder() },
            new RtnOptions { WeightBits = bits, GroupSize = groupSize, Scheme = scheme });
        var export = OnnxExporter.Export(model, Path.Combine(_dir, $"rtn-{bits}-{groupSize}-{scheme}.onnx"), RtnKinds.All);
        var result = OnnxVerifier.Verify(model, export);
        Assert.True(result.Passed, string.Join("; ", result.Failures));

        long otherBytes = export.InitializerBytes.Where(kv => !export.CompressedLayers.Any(l => l.Initializers.Contains(kv.Key))).Sum(kv => kv.Value);
        long theory = export.CompressedTheoreticalBytes + otherBytes;
        double ratio = (double)export.BytesOnDisk / theory;
        output.WriteLine($"rtn {bits}-bit group {groupSize} {scheme}: file {export.BytesOnDisk} bytes, theory {theory} ({ratio:F4}×), " +
                         $"BASIC max abs {result.MaxAbsError:G3} ({result.SqnrDb:F1} dB), ENABLE_ALL max abs {result.OptimizedMaxAbsError:G3} ({result.OptimizedSqnrDb:F1} dB), " +
                         $"fused [{string.Join(", ", result.FusedKernelCounts.Select(kv => $"{kv.Key} ({kv.Value})"))}]");
        Assert.True(ratio <= 1.02, $"the ONNX file is {ratio:F4}× theory");
        Assert.Equal(export.CompressedTheoreticalBytes, export.CompressedTensorBytes);
        Assert.True(result.SqnrDb > 100, $"BASIC parity {result.SqnrDb:F1} dB");
        Assert.Contains("com.microsoft.MatMulNBits", result.FusedKernels);
        Assert.Equal(3, result.FusedKernelCounts["com.microsoft.MatMulNBits"]);
    }
}

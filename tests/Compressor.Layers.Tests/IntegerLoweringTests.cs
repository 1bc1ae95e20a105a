using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Geometry;
using Compressor.Layers.Integer;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Testing;
using Compressor.Tests.Shared;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Compressor.Layers.Tests;

/// <summary>The integer (W8A8) layers exported for speed and run in ONNX Runtime 1.31.1: at ORT_ENABLE_BASIC the
/// graph computes what the TorchSharp layer computes (the QDQ form in float, the explicit integer operators in int32:
/// rtol/atol 1e-4, float32 summation and scaling order); at ORT_ENABLE_ALL each layer runs on the integer kernel its
/// form is written for, read back from the optimised graph.</summary>
public sealed class IntegerLoweringTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("integer-lowering-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(ActivationQuantization.Static, "com.microsoft.MatMulIntegerToFloat")]
    [InlineData(ActivationQuantization.DynamicPerTensor, "com.microsoft.DynamicQuantizeMatMul")]
    [InlineData(ActivationQuantization.DynamicPerToken, "MatMulInteger")]
    public void LinearRunsOnItsIntegerKernel(ActivationQuantization activations, string kernel)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var dense = nn.Linear(48, 32, hasBias: true);
        var layer = IntegerLayer.FromWeight(new LinearGeometry(48, 32, true), new IntegerFormat(activations), dense.weight!, 0.02f, 131, dense.bias);
        Check(layer, [2, 5, 48], [2, 5, 32], activations.ToString(), kernel);
    }

    [Theory]
    [InlineData(ActivationQuantization.Static)]
    [InlineData(ActivationQuantization.DynamicPerTensor)]
    public void ConvRunsOnConvInteger(ActivationQuantization activations)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var dense = nn.Conv2d(3, 8, 3, stride: 2, padding: 1);
        var layer = IntegerLayer.FromWeight(Conv2dGeometry.Of(dense), new IntegerFormat(activations), dense.weight!, 0.03f, 120, dense.bias);
        Check(layer, [2, 3, 9, 9], [2, 8, 5, 5], "conv " + activations, "ConvInteger");
    }

    /// <summary>The requantization tolerance of QLinearConv: MLAS requantizes the int32 sum with a float multiplier
    /// s_in·s_w/s_out per channel, the TorchSharp layer divides the float product by s_out, so a value that falls next
    /// to a rounding boundary may land one output code apart (one step s_out); at most this share of the outputs.</summary>
    private const double MaximumOffByOneCodeShare = 0.01;

    [Fact]
    public void ConvWithQuantizedOutputRunsOnQLinearConv()
    {
        // A static conv whose output is requantized (ResNet-style: the bias on the int32 grid, a calibrated uint8
        // output grid): the export runs QLinearConv, and ORT agrees with the TorchSharp layer code for code up to the
        // requantization rounding.
        using var scope = NewDisposeScope();
        manual_seed(2);
        var dense = nn.Conv2d(3, 8, 3, stride: 2, padding: 1);
        var (codes, scales) = IntegerLayer.QuantizeWeight(dense.weight!.detach().flatten(1));
        float outputScale = 0.01f;
        var layer = IntegerLayer.FromCodes(Conv2dGeometry.Of(dense), new IntegerFormat(ActivationQuantization.Static) { QuantizedOutput = true },
            codes, scales, 0.03f, 120, outputScale, 100, dense.bias);
        var model = SingleLayerModel.Wrap(layer, [2, 3, 9, 9], [2, 8, 5, 5]);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, "qlinearconv.onnx"), Kinds.BuiltIn, new OnnxExportOptions { Target = ExportTarget.Speed });
        var x = OnnxVerifier.SampleInput(export.Inputs[0], seed: 3);
        var expected = model.Forward(x);
        foreach (var level in new[] { GraphOptimizationLevel.ORT_ENABLE_BASIC, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            var (values, shape) = OnnxVerifier.Run(export, new Dictionary<string, Tensor> { [export.Inputs[0].Name] = x }, level, null)[export.Outputs[0].Name];
            var codesApart = tensor(values).reshape(shape).sub(expected).abs().div(outputScale).round();
            double offByOne = codesApart.gt(0).to_type(ScalarType.Float32).mean().item<float>();
            output.WriteLine($"{level}: {offByOne:P2} of outputs one code apart, max {codesApart.max().item<float>()} codes");
            Assert.True(codesApart.max().item<float>() <= 1, $"{level}: an output more than one code apart");
            Assert.True(offByOne <= MaximumOffByOneCodeShare, $"{level}: {offByOne:P2} of the outputs one code apart (limit {MaximumOffByOneCodeShare:P0})");
        }
        var result = OnnxVerifier.Verify(model, export);
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        var k = Assert.Single(result.LayerKernels);
        output.WriteLine($"kernels {string.Join(", ", k.Kernels.Select(kv => $"{kv.Key}×{kv.Value}"))}, BASIC {result.SqnrDb:F1} dB, ALL {result.OptimizedSqnrDb:F1} dB");
        Assert.Equal(LayerKernel.Integer, k.Form);
        Assert.True(k.Kernels.Keys.Any(kernel => kernel is "QLinearConv" or "com.microsoft.QLinearConv"), "no QLinearConv in the optimised graph");
        Assert.DoesNotContain("ConvInteger", k.Kernels.Keys);
        Assert.Equal(export.CompressedTheoreticalBytes, export.CompressedTensorBytes);
    }

    [Fact]
    public void CodebookLayersRefuseTheSpeedTargetNamingTheLayer()
    {
        // Arbitrary float16 codebook values have no exact int8 grid: a speed export stops (exit code 2's kind) before
        // writing anything, and says what to do instead; the size target still exports it.
        using var scope = NewDisposeScope();
        var g = new Generator(7);
        var indices = randint(0, 16, [8, 32], generator: g, dtype: ScalarType.Int64);
        var codebooks = randn([1, 16], generator: g).sort(-1).Values;
        var layer = Compressor.Layers.Codebook.CodebookLayer.FromIndices(new LinearGeometry(32, 8, false), 4, 1, Compressor.Layers.Codebook.CodebookVariant.Codebooks,
            indices, codebooks, null, null, null);
        var model = SingleLayerModel.Wrap(layer, [2, 32], [2, 8]);
        string path = Path.Combine(_dir, "codebook-speed.onnx");
        var e = Assert.Throws<Compressor.Sdk.CompressException>(() => OnnxExporter.Export(model, path, Kinds.BuiltIn, new OnnxExportOptions { Target = ExportTarget.Speed }));
        Assert.Equal(Compressor.Sdk.ErrorKind.InvalidOptions, e.Kind);
        Assert.Contains("'layer'", e.Message);
        Assert.Contains("--target size", e.Message);
        Assert.False(File.Exists(path));
        Assert.True(OnnxExporter.Export(model, path, Kinds.BuiltIn).BytesOnDisk > 0);
    }

    private void Check(IntegerLayer layer, long[] inputShape, long[] outputShape, string what, string kernel)
    {
        var model = SingleLayerModel.Wrap(layer, inputShape, outputShape);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, what.Replace(' ', '-') + ".onnx"), Kinds.BuiltIn, new OnnxExportOptions { Target = ExportTarget.Speed });
        var x = OnnxVerifier.SampleInput(export.Inputs[0], seed: 3);
        var expected = model.Forward(x);
        var (values, shape) = OnnxVerifier.Run(export, new Dictionary<string, Tensor> { [export.Inputs[0].Name] = x }, GraphOptimizationLevel.ORT_ENABLE_BASIC, null)[export.Outputs[0].Name];
        Tolerances.AssertClose(expected, tensor(values).reshape(shape), rtol: 1e-4, atol: 1e-4, $"{what} at ORT_ENABLE_BASIC");
        var result = OnnxVerifier.Verify(model, export);
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        var k = Assert.Single(result.LayerKernels);
        output.WriteLine($"{what}: BASIC {result.SqnrDb:F1} dB, ALL {result.OptimizedSqnrDb:F1} dB, kernels {string.Join(", ", k.Kernels.Select(kv => $"{kv.Key}×{kv.Value}"))}");
        Assert.Equal(LayerKernel.Integer, k.Form);
        Assert.Contains(kernel, k.Kernels.Keys);
        Assert.Empty(result.FallbackLayers);
        Assert.Equal(export.CompressedTheoreticalBytes, export.CompressedTensorBytes);
    }
}

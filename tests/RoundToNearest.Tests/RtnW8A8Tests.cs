using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Integer;
using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Newtonsoft.Json.Linq;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RoundToNearest.Tests;

/// <summary>rtn --activation-bits 8 on a small pre-norm ViT (digits): SmoothQuant folds into the LayerNorms and the
/// value rows without changing the function, every layer becomes an integer layer, and the speed export runs each on
/// an integer kernel within the gate.</summary>
public sealed class RtnW8A8Tests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rtn-w8a8-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CompressibleModel Vit()
    {
        manual_seed(11);
        var spec = ArchitectureRegistry.Spec("vit", new JObject { ["imageSize"] = 8, ["patchSize"] = 4, ["inChannels"] = 1, ["dim"] = 32, ["depth"] = 2, ["heads"] = 2, ["mlpRatio"] = 2, ["classes"] = 10 });
        return ArchitectureRegistry.CreateModel(spec, RtnKinds.All);
    }

    [Fact]
    public void SmoothQuantFoldsKeepTheFunction()
    {
        // Folding s into norm1 / norm2 / the value rows and W·diag(s) into the layers is exact algebra: the output
        // keeps float precision (> 100 dB), and folding the reciprocal undoes it.
        using var model = Vit();
        using var scope = NewDisposeScope();
        var x = randn([4, 1, 8, 8], generator: new Generator(1));
        using var noGrad = no_grad();
        var before = model.Forward(x);
        foreach (var (layer, expected) in new[] { ("blocks.0.attn.qkv", "blocks.0.norm1"), ("blocks.1.mlp.fc1", "blocks.1.norm2"), ("blocks.1.attn.proj", "blocks.1.attn.qkv (value rows)") })
        {
            var linear = (TorchSharp.Modules.Linear)model.GetLayer(layer);
            var s = rand(linear.in_features, generator: new Generator(2)).add(0.5);
            Assert.Equal(expected, model.FoldInputScale([layer], s));
            linear.weight!.mul_(s.unsqueeze(0));
        }
        Assert.Null(model.FoldInputScale(["blocks.0.mlp.fc2"], ones(64)));   // after a GELU: nothing can absorb it
        Assert.True(Sqnr.Db(before, model.Forward(x)) > 100);
    }

    [Theory]
    [InlineData(ActivationScheme.Static, CalibrationMethod.MinMax, 0.5)]
    [InlineData(ActivationScheme.Static, CalibrationMethod.Mse, 0)]
    [InlineData(ActivationScheme.Dynamic, CalibrationMethod.MinMax, 0)]
    public void W8A8VitExportsOntoIntegerKernels(ActivationScheme scheme, CalibrationMethod calibration, double alpha)
    {
        using var model = Vit();
        using var data = DataSources.Open("digits", 0);
        var report = new ReportBuilder();
        new RtnPlugin().Run(new PluginContext
        {
            Model = model, Data = new PluginData(null, data.Calibration, null), Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = report,
        }, new RtnOptions { WeightBits = 8, GroupSize = 0, ActivationBits = 8, ActivationScheme = scheme, Calibration = calibration, Smoothquant = alpha, CalibrationBatches = 2 });
        var layers = model.CompressedLayers();
        Assert.Equal(2 * 4 + 2, layers.Count);   // patch embedding, 4 linears per block, head
        Assert.All(layers, l => Assert.IsType<IntegerLayer>(l.Layer));
        if (alpha > 0) Assert.Equal(6, report.Metrics.Single(m => m.Name == "smoothedLayers").Value);   // qkv, proj, fc1 per block

        var export = OnnxExporter.Export(model, Path.Combine(_dir, $"vit-{scheme}-{calibration}-{alpha}.onnx"), RtnKinds.All, new OnnxExportOptions { Target = ExportTarget.Speed });
        var result = OnnxVerifier.Verify(model, export);
        output.WriteLine($"{scheme} {calibration} α {alpha}: BASIC {result.SqnrDb:F1} dB, ALL {result.OptimizedSqnrDb:F1} dB; " +
                         string.Join(", ", result.LayerKernels.Select(k => $"{k.Layer} {k.Form}")));
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        Assert.All(result.LayerKernels, k => Assert.Equal(LayerKernel.Integer, k.Form));
    }

    /// <summary>rtn static W8A8 on a small CNN (digits): each convolution calibrates an output grid too and runs on
    /// QLinearConv (read back from ORT's optimised graph, none left on ConvInteger), and ORT agrees with the TorchSharp
    /// model within the gate (the codes are the model's; only float summation order differs).</summary>
    [Fact]
    public void StaticConvolutionsRunOnQLinearConv()
    {
        using var model = Compressor.Sdk.Testing.TinyModels.Cnn(3, kinds: RtnKinds.All);
        using var data = DataSources.Open("digits", 0);
        new RtnPlugin().Run(new PluginContext
        {
            Model = model, Data = new PluginData(null, data.Calibration, null), Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = new ReportBuilder(),
        }, new RtnOptions { WeightBits = 8, GroupSize = 0, ActivationBits = 8, ActivationScheme = ActivationScheme.Static, CalibrationBatches = 2 });
        var convs = model.CompressedLayers().Where(l => l.Layer is IntegerLayer { Geometry: Compressor.Layers.Geometry.Conv2dGeometry }).ToList();
        Assert.NotEmpty(convs);
        Assert.All(convs, l => Assert.True(((IntegerLayer)l.Layer).Format.QuantizedOutput, $"{l.Name}: no output grid"));

        var export = OnnxExporter.Export(model, Path.Combine(_dir, "cnn-static.onnx"), RtnKinds.All, new OnnxExportOptions { Target = ExportTarget.Speed });
        var result = OnnxVerifier.Verify(model, export);
        output.WriteLine($"BASIC {result.SqnrDb:F1} dB, ALL {result.OptimizedSqnrDb:F1} dB; " +
                         string.Join("; ", result.LayerKernels.Select(k => $"{k.Layer}: {string.Join(", ", k.Kernels.Select(p => $"{p.Key}×{p.Value}"))}")));
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        foreach (var conv in convs)
        {
            var k = result.LayerKernels.Single(x => x.Layer == conv.Name);
            Assert.Equal(LayerKernel.Integer, k.Form);
            Assert.Contains(k.Kernels.Keys, op => op is "QLinearConv" or "com.microsoft.QLinearConv");
            Assert.DoesNotContain("ConvInteger", k.Kernels.Keys);
        }
    }
}

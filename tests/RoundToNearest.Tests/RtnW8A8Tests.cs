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

    /// <summary>A residual block as CNTK's ResNet18 writes it, imported from ONNX: x[N, 1, 8, 8] → Conv c1 (no bias) →
    /// BatchNormalization → Relu → Conv c2 (no bias) → BatchNormalization → Add (the Relu's output) → Relu →
    /// GlobalAveragePool → Flatten → y[N, 8]; opset 13, random normalisation statistics.</summary>
    private CompressibleModel ResidualBlock()
    {
        var g = new Generator(21);
        Onnx.TensorProto Init(string name, Tensor t)
        {
            using var c = t.to_type(ScalarType.Float32).contiguous();
            var p = new Onnx.TensorProto { Name = name, DataType = (int)Onnx.TensorProto.Types.DataType.Float, RawData = Google.Protobuf.ByteString.CopyFrom(c.bytes) };
            p.Dims.AddRange(c.shape);
            return p;
        }
        Onnx.NodeProto Node(string op, string[] inputs, string output, params Onnx.AttributeProto[] attributes)
        {
            var n = new Onnx.NodeProto { OpType = op, Name = output + "_" + op };
            n.Input.AddRange(inputs);
            n.Output.Add(output);
            n.Attribute.AddRange(attributes);
            return n;
        }
        Onnx.AttributeProto Ints(string name, params long[] v)
        {
            var a = new Onnx.AttributeProto { Name = name, Type = Onnx.AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(v);
            return a;
        }
        Onnx.ValueInfoProto Value(string name, params object[] dims)
        {
            var shape = new Onnx.TensorShapeProto();
            foreach (var d in dims)
                shape.Dim.Add(d is string p ? new Onnx.TensorShapeProto.Types.Dimension { DimParam = p } : new Onnx.TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
            return new Onnx.ValueInfoProto { Name = name, Type = new Onnx.TypeProto { TensorType = new Onnx.TypeProto.Types.Tensor { ElemType = (int)Onnx.TensorProto.Types.DataType.Float, Shape = shape } } };
        }
        var graph = new Onnx.GraphProto { Name = "residual" };
        var conv = new[] { Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1) };
        graph.Node.AddRange([
            Node("Conv", ["x", "c1.weight"], "a", conv), Node("BatchNormalization", ["a", "n1.scale", "n1.bias", "n1.mean", "n1.var"], "b"), Node("Relu", ["b"], "r"),
            Node("Conv", ["r", "c2.weight"], "c", conv), Node("BatchNormalization", ["c", "n2.scale", "n2.bias", "n2.mean", "n2.var"], "d"),
            Node("Add", ["d", "r"], "e"), Node("Relu", ["e"], "f"), Node("GlobalAveragePool", ["f"], "p"), Node("Flatten", ["p"], "y"),
        ]);
        graph.Input.Add(Value("x", "N", 1, 8, 8));
        graph.Output.Add(Value("y", "N", 8));
        graph.Initializer.AddRange([Init("c1.weight", randn([8, 1, 3, 3], generator: g) * 0.1), Init("c2.weight", randn([8, 8, 3, 3], generator: g) * 0.1)]);
        foreach (var n in new[] { "n1", "n2" })
            graph.Initializer.AddRange([Init(n + ".scale", rand([8], generator: g) + 0.5), Init(n + ".bias", randn([8], generator: g)),
                Init(n + ".mean", randn([8], generator: g)), Init(n + ".var", rand([8], generator: g) + 0.5)]);
        var model = new Onnx.ModelProto { IrVersion = 8, ProducerName = "rtn-tests", Graph = graph };
        model.OpsetImport.Add(new Onnx.OperatorSetIdProto { Domain = "", Version = 13 });
        string path = Path.Combine(_dir, "residual.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        return ModelIO.Load(path, RtnKinds.All);
    }

    /// <summary>Conv + BatchNormalization + ReLU as mature int8 toolchains quantize it: the normalisation is folded
    /// whole (its shift into the int32 bias), a convolution whose output only a ReLU reads gets an output grid from 0
    /// (zero point 0) calibrated on the rectified values, and the convolution after it reads that same grid; one that
    /// feeds the residual Add keeps a signed range. The export has no BatchNormalization, runs every convolution on
    /// QLinearConv, and agrees with the TorchSharp model within the gate. Floor: the W8A8 block's output keeps ≥ 45 dB
    /// against FP32 on 64 held-out digits (measured 56.7 dB; a uniform 8-bit grid's own rounding noise is ≈ 48 dB below a
    /// full-range signal, so 45 dB leaves room for the three grids in a row but not for a grid that wastes half its codes).</summary>
    [Fact]
    public void ReluFusedConvolutionsCalibrateFromZeroAndShareTheirGrid()
    {
        using var model = ResidualBlock();
        using var data = DataSources.Open("digits", 0);
        using var reference = model.FrozenCopy();
        new RtnPlugin().Run(new PluginContext
        {
            Model = model, Data = new PluginData(null, data.Calibration, null), Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = new ReportBuilder(),
        }, new RtnOptions { WeightBits = 8, GroupSize = 0, ActivationBits = 8, ActivationScheme = ActivationScheme.Static, CalibrationBatches = 4 });
        var c1 = Assert.IsType<IntegerLayer>(model.GetLayer("c1"));
        var c2 = Assert.IsType<IntegerLayer>(model.GetLayer("c2"));
        Assert.True(c1.Format.QuantizedOutput && c2.Format.QuantizedOutput);
        Assert.True(model.OutputIsRectified("c1"));
        Assert.False(model.OutputIsRectified("c2"));
        Assert.Equal(0, c1.OutputZeroPoint);
        Assert.True(c2.OutputZeroPoint > 0, "the residual branch's output keeps its negative values");
        Assert.Equal(c1.OutputScale, c2.InputScale);
        Assert.Equal(0, c2.InputZeroPoint);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x;
        using (var e = data.Evaluation!.Batches(64).GetEnumerator()) { e.MoveNext(); x = e.Current.Input.clone(); }
        double db = Sqnr.Db(reference.Forward(x), model.Forward(x));
        output.WriteLine($"W8A8 block vs FP32: {db:F1} dB; c1 out {c1.OutputScale:G4}/{c1.OutputZeroPoint}, c2 in {c2.InputScale:G4}/{c2.InputZeroPoint}, out {c2.OutputScale:G4}/{c2.OutputZeroPoint}");
        Assert.True(db >= 45, $"{db:F1} dB");
        // The compressed checkpoint reloads to the same function (the identity normalisations are plain buffers).
        string checkpoint = Path.Combine(_dir, "residual-w8a8");
        ModelIO.Save((EngineModel)model, checkpoint);
        using (var reloaded = ModelIO.Load(checkpoint, RtnKinds.All))
            Assert.True(model.Forward(x).equal(reloaded.Forward(x)).all().item<bool>(), "the reloaded checkpoint computes something else");

        string path = Path.Combine(_dir, "residual-speed.onnx");
        var export = OnnxExporter.Export(model, path, RtnKinds.All, new OnnxExportOptions { Target = ExportTarget.Speed });
        var result = OnnxVerifier.Verify(model, export);
        output.WriteLine(string.Join("; ", result.LayerKernels.Select(k => $"{k.Layer}: {string.Join(", ", k.Kernels.Select(p => $"{p.Key}×{p.Value}"))}")));
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        Assert.DoesNotContain(Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph.Node, n => n.OpType == "BatchNormalization");
        foreach (var name in new[] { "c1", "c2" })
            Assert.Contains(result.LayerKernels.Single(k => k.Layer == name).Kernels.Keys, op => op is "QLinearConv" or "com.microsoft.QLinearConv");
    }
}

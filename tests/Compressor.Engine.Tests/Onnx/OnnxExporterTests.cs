using Compressor.Engine.Tests.Kinds;
using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Sdk.Layers;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Google.Protobuf;
using Onnx;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>Whole-model export: FP32 parity of the built-in architectures, deterministic bytes, external data, the
/// compatibility table and the gate's failures.</summary>
public sealed class OnnxExporterTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("exporter-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>Quantizes every linear (and conv) layer of <paramref name="model"/> with a plain symmetric grid (the
    /// test-only kinds: groups of <paramref name="groupSize"/> inputs for linears, per channel for convs).</summary>
    private static void Quantize(CompressibleModel model, int bits, int groupSize) => TestKinds.Quantize(model, bits, groupSize);

    private VerificationResult ExportAndVerify(CompressibleModel model, string name, out OnnxExportResult export, OnnxExportOptions? options = null)
    {
        export = OnnxExporter.Export(model, PathOf(name), TestKinds.All, options);
        var result = OnnxVerifier.Verify(model, export);
        output.WriteLine($"{name}: opset {export.Opset}, {export.BytesOnDisk} bytes, loads {result.Loads}, BASIC max abs {result.MaxAbsError:G3} ({result.SqnrDb:F1} dB), " +
                         $"ENABLE_ALL max abs {result.OptimizedMaxAbsError:G3} ({result.OptimizedSqnrDb:F1} dB), fused [{string.Join(", ", result.FusedKernelCounts.Select(kv => $"{kv.Key} ({kv.Value})"))}]");
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        return result;
    }

    [Theory]
    [InlineData("relu")]
    [InlineData("gelu")]
    [InlineData("tanh")]
    public void Fp32MlpMatchesTorchSharp(string activation)
    {
        manual_seed(1);
        var spec = Compressor.Engine.Checkpoints.ArchitectureRegistry.Spec("mlp", new Newtonsoft.Json.Linq.JObject { ["inputs"] = 20, ["hidden"] = new Newtonsoft.Json.Linq.JArray(32, 16), ["activation"] = activation });
        using var model = Compressor.Engine.Checkpoints.ArchitectureRegistry.CreateModel(spec, TestKinds.All);
        var r = ExportAndVerify(model, $"mlp-{activation}.onnx", out var export);
        Assert.True(r.MaxAbsError < 1e-5, $"max abs error {r.MaxAbsError}");
        Assert.Equal(21, export.Opset);
        Assert.Empty(export.CompressedLayers);
        Assert.True(r.Compatible);
    }

    [Fact]
    public void Fp32CnnMatchesTorchSharp()
    {
        using var model = TinyModels.Cnn(seed: 2);
        var r = ExportAndVerify(model, "cnn.onnx", out _);
        Assert.True(r.MaxAbsError < 1e-5, $"max abs error {r.MaxAbsError}");
    }

    [Fact]
    public void QuantizedCnnMatchesTorchSharpAndHoldsPackedCodes()
    {
        using var model = TinyModels.Cnn(seed: 3);
        Quantize(model, bits: 4, groupSize: 0);
        var r = ExportAndVerify(model, "cnn-q4.onnx", out var export);
        Assert.Equal(3, export.CompressedLayers.Count);
        Assert.All(r.Layers, l => Assert.Equal(l.TheoreticalBytes, l.Bytes));
        Assert.Equal(["convs.0", "convs.2", "head"], r.LayerOutputs.Select(l => l.Layer));
        Assert.All(r.LayerOutputs, l => Assert.True(l.SqnrDb > 100, $"{l.Layer}: {l.SqnrDb:F1} dB"));
        foreach (var l in r.LayerOutputs) output.WriteLine($"  {l.Layer}: max abs {l.MaxAbsError:G3} ({l.SqnrDb:F1} dB)");
    }

    [Fact]
    public void SameModelGivesTheSameBytes()
    {
        string Export(string name)
        {
            using var model = TinyModels.Mlp(seed: 11);
            Quantize(model, bits: 4, groupSize: 32);
            return OnnxExporter.Export(model, PathOf(name), TestKinds.All).Sha256;
        }
        string a = Export("a.onnx"), b = Export("b.onnx");
        Assert.Equal(a, b);
        Assert.Equal(File.ReadAllBytes(PathOf("a.onnx")), File.ReadAllBytes(PathOf("b.onnx")));
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(PathOf("a.onnx")));
        Assert.Equal("compress", proto.ProducerName);
        Assert.Equal(0, proto.ModelVersion);
        Assert.Equal(10, proto.IrVersion);
        Assert.Equal(["", ], proto.OpsetImport.Select(o => o.Domain));
    }

    [Fact]
    public void LargeModelsWriteTensorsAsExternalData()
    {
        using var model = TinyModels.Mlp(seed: 12);
        Quantize(model, bits: 4, groupSize: 32);
        var options = new OnnxExportOptions { ExternalDataThreshold = 1000, ExternalDataMinimumBytes = 256 };
        var r = ExportAndVerify(model, "external.onnx", out var export, options);
        Assert.NotNull(export.ExternalDataPath);
        Assert.Equal(PathOf("external.onnx.data"), export.ExternalDataPath);
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(PathOf("external.onnx")));
        var external = proto.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        Assert.NotEmpty(external);
        Assert.All(external, t => Assert.Equal("external.onnx.data", t.ExternalData.Single(e => e.Key == "location").Value));
        Assert.All(proto.Graph.Initializer.Where(t => t.RawData.Length > 0), t => Assert.True(t.RawData.Length < 256));
        Assert.True(new FileInfo(PathOf("external.onnx")).Length < new FileInfo(PathOf("external.onnx.data")).Length);
        Assert.True(r.MaxAbsError < 1e-4);
        Assert.Contains("com.microsoft.MatMulNBits", r.FusedKernels);
        Assert.Empty(r.LayerOutputs);   // per-layer parity needs the graph in memory: not done for external data
        // The same export again: identical model and side file.
        var again = OnnxExporter.Export(model, PathOf("external2.onnx"), TestKinds.All, options);
        Assert.Equal(File.ReadAllBytes(export.ExternalDataPath!), File.ReadAllBytes(again.ExternalDataPath!));
    }

    [Fact]
    public void TwoBitWeightsRaiseTheOpsetAndALowerRequestedOpsetIsRefused()
    {
        using var model = TinyModels.Mlp(seed: 13);
        Quantize(model, bits: 2, groupSize: 16);
        var r = ExportAndVerify(model, "two-bit.onnx", out var export);
        Assert.Equal(25, export.Opset);
        Assert.Equal(13, export.IrVersion);
        var e = Assert.Throws<CompressException>(() => OnnxExporter.Export(model, PathOf("refused.onnx"), TestKinds.All, new OnnxExportOptions { Opset = 21 }));
        Assert.Equal(ErrorKind.InvalidOptions, e.Kind);
        Assert.Contains("needs ai.onnx opset 25", e.Message);
        Assert.False(File.Exists(PathOf("refused.onnx")));
    }

    [Fact]
    public void EightBitPerChannelModelsExportAtOpset13()
    {
        using var model = TinyModels.Cnn(seed: 17);
        Quantize(model, bits: 8, groupSize: 0);
        var r = ExportAndVerify(model, "int8-opset13.onnx", out var export, new OnnxExportOptions { Opset = 13 });
        Assert.Equal(13, export.Opset);
        Assert.True(r.SqnrDb > 100, $"parity {r.SqnrDb:F1} dB");
    }

    [Fact]
    public void CompatibilityTableRejectsWhatOrtCpuDoesNotRun()
    {
        var model = new ModelProto { IrVersion = 10, Graph = new GraphProto() };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        model.Graph.Initializer.Add(new TensorProto { Name = "q", DataType = OnnxDataType.Int2, RawData = ByteString.CopyFrom(new byte[1]) });
        model.Graph.Initializer.Add(new TensorProto { Name = "codes4", DataType = OnnxDataType.Int4, RawData = ByteString.CopyFrom(new byte[1]) });
        model.Graph.Node.Add(new NodeProto { OpType = "DequantizeLinear", Name = "dq", Input = { "q", "s" }, Output = { "w" } });
        model.Graph.Node.Add(new NodeProto { OpType = "MatMul", Name = "mm", Input = { "x", "codes4" }, Output = { "y" } });
        model.Graph.Node.Add(new NodeProto { OpType = "FancyOp", Name = "fancy", Input = { "y" }, Output = { "z" } });
        var problems = OrtCompatibility.Check(model);
        Assert.Contains(problems, p => p.Contains("int2 needs opset 25"));
        Assert.Contains(problems, p => p.Contains("MatMul 'mm': input 1 'codes4' is int4"));
        Assert.Contains(problems, p => p.Contains("FancyOp 'fancy': operator not in the ORT 1.31 CPU table"));
    }

    [Fact]
    public void FakeQuantizedFloatWeightsFailTheSizeGate()
    {
        // A fake-quant layer kind: claims 4 bits per weight, exports float32.
        using var model = TinyModels.Mlp(seed: 14);
        model.ReplaceLayer("layers.2", new FakeQuantLinear(randn(48, 96)));
        var export = OnnxExporter.Export(model, PathOf("fake.onnx"), TestKinds.All);
        var r = OnnxVerifier.Verify(model, export);
        Assert.False(r.Passed);
        Assert.True(r.Loads);
        Assert.True(r.SqnrDb > 100, $"parity {r.SqnrDb} dB");
        var failure = Assert.Single(r.Failures);
        Assert.Contains("'layers.2' takes 18432 bytes in the file, 8.000× its theoretical 2304", failure);
        var e = Assert.Throws<CompressException>(r.EnsurePassed);
        Assert.Equal(ErrorKind.VerificationFailed, e.Kind);
    }

    [Fact]
    public void ExportAndVerificationLeakNoTensors()
    {
        using var model = TinyModels.Mlp(seed: 16);
        Quantize(model, bits: 4, groupSize: 32);
        void Once(string name) => OnnxVerifier.Verify(model, OnnxExporter.Export(model, PathOf(name), TestKinds.All));
        Once("warm.onnx");
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Once("leak.onnx");
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void UnknownModulesAndWeightsOnlyModelsAreRefusedWithOneLine()
    {
        using var model = TinyModels.Mlp(seed: 15);
        model.ReplaceLayer("layers.1", nn.Softplus());
        var e = Assert.Throws<CompressException>(() => OnnxExporter.Export(model, PathOf("softplus.onnx"), TestKinds.All));
        Assert.Equal(ErrorKind.VerificationFailed, e.Kind);
        Assert.Contains("'layers.1': module type Softplus cannot be exported", e.Message);

        var weightsOnly = WeightsOnlyModule.Build([("fc.weight", new long[] { 4, 3 }, ScalarType.Float32)]);
        using var wo = new WeightsOnlyModel(weightsOnly, TestKinds.All);
        var e2 = Assert.Throws<CompressException>(() => OnnxExporter.Export(wo, PathOf("wo.onnx"), TestKinds.All));
        Assert.Equal(ErrorKind.InvalidInput, e2.Kind);
        Assert.False(File.Exists(PathOf("softplus.onnx")) || File.Exists(PathOf("wo.onnx")));
    }

    /// <summary>Compressed layers are lowered by the kinds handed to the exporter, and nothing else: without their
    /// kind the export fails with one line naming the layer and the kind.</summary>
    [Fact]
    public void CompressedLayersAreLoweredByTheKindsHandedIn()
    {
        using var model = TinyModels.Mlp(seed: 18);
        Quantize(model, bits: 8, groupSize: 0);
        var e = Assert.Throws<CompressException>(() => OnnxExporter.Export(model, PathOf("no-kinds.onnx"), Compressor.Engine.Kinds.LayerKindSet.Empty));
        Assert.Equal(ErrorKind.VerificationFailed, e.Kind);
        Assert.Equal($"ONNX export: 'layers.0': no ONNX lowering for compressed layer kind '{TestQuantizedLinear.KindId}': unknown kind (is the plugin that produced it installed? known: none)", e.Message);
        Assert.False(File.Exists(PathOf("no-kinds.onnx")));
        var (proto, layers, _) = OnnxExporter.Build(model, TestKinds.All);
        Assert.Equal(["layers.0", "layers.2", "layers.4"], layers.Select(l => l.Name));
        Assert.All(layers, l => Assert.Equal(TestQuantizedLinear.KindId, l.Kind));
        Assert.Equal(3, proto.Graph.Node.Count(n => n.OpType == "DequantizeLinear"));
        Assert.Equal(OnnxExporter.ProducerVersion, proto.ProducerVersion);
        Assert.Equal(typeof(OnnxExporter).Assembly.GetName().Version!.ToString(3), proto.ProducerVersion);
    }
}

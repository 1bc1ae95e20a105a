using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Import;
using Google.Protobuf;
using static Compressor.Engine.Tests.Onnx.OnnxGraphs;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;
using Compressor.Tests.Shared;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>The importer on small graphs: naming, replaceable layers, gradients, dynamic shapes, errors.</summary>
public sealed class OnnxImporterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("onnx-import-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(global::Onnx.ModelProto model, string name = "m.onnx")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    [Fact]
    public void MatMulAddFusesIntoALinearNamedAfterItsBiasAndGemmIntoOneNamedAfterItsWeight()
    {
        using var model = ModelIO.Load(Write(SmallGraphs.Mlp()), TestKinds.All);
        Assert.Equal(["fc1", "fc2"], model.Layers().Select(l => l.Name));
        Assert.All(model.Layers(), l => Assert.Equal(LayerType.Linear, l.Type));
        Assert.Equal([16L, 8], model.Layers()[0].WeightShape);
        Assert.Equal("onnx", model.ArchitectureName);
        var module = (OnnxModule)model.Module;
        Assert.Equal("fc1", module.LayerOfInitializer["onnx::MatMul_7"]);
        Assert.Equal(3, module.StepCount); // MatMul+Add fused, Relu, Gemm
    }

    [Fact]
    public void ComputesTheGraphForAnyBatchSize()
    {
        var proto = SmallGraphs.Mlp();
        using var model = ModelIO.Load(Write(proto), TestKinds.All);
        using var ort = OrtReference.Session(proto.ToByteArray());
        foreach (int batch in new[] { 1, 3, 7 })
        {
            using var scope = NewDisposeScope();
            var x = randn(batch, 8);
            var y = model.Forward(x);
            Assert.True(allclose(y, SmallGraphs.MlpReference(proto, x), rtol: 1e-5, atol: 1e-5));
            Assert.True(allclose(y, OrtReference.Run(ort, new Dictionary<string, Tensor> { ["x"] = x })["y"], rtol: 1e-5, atol: 1e-5));
        }
    }

    [Fact]
    public void AsymmetricConvAndPoolPadsMatchOrt()
    {
        var proto = SmallGraphs.Cnn();
        using var model = ModelIO.Load(Write(proto), TestKinds.All);
        var conv = Assert.IsType<TorchSharp.Modules.Conv2d>(model.GetLayer("conv1"));
        Assert.Equal(["conv1"], model.Layers().Select(l => l.Name));
        using var ort = OrtReference.Session(proto.ToByteArray());
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 9, 9);
        var y = model.Forward(x);
        var reference = OrtReference.Run(ort, new Dictionary<string, Tensor> { ["x"] = x })["y"];
        Assert.Equal(reference.shape, y.shape);
        Assert.True(allclose(y, reference, rtol: 1e-5, atol: 1e-5), $"max |Δ| {(y - reference).abs().max().item<float>()}");
    }

    [Fact]
    public void BatchNormalizationFoldsIntoTheConvolutionBeforeIt()
    {
        // Conv → BatchNormalization → Relu (CNTK's ResNet18 pattern): the fold scales the conv's rows by γ/√(σ² + ε),
        // moves the shift β − a·μ into the conv's bias, leaves the normalisation the exact identity, and keeps the
        // function (float rounding only: > 100 dB); the conv then writes the normalised values, which only a Relu
        // reads (OutputIsRectified). A layer with no normalisation after it: null.
        using var model = ModelIO.Load(Write(SmallGraphs.Cnn()), TestKinds.All);
        using var scope = NewDisposeScope();
        var x = randn([2, 3, 9, 9], generator: new Generator(5));
        using var noGrad = no_grad();
        var before = model.Forward(x);
        Assert.False(model.OutputIsRectified("conv1"));   // a BatchNormalization that is not the identity stands between
        var module = (OnnxModule)model.Module;
        var buffers = model.Module.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        var conv = (TorchSharp.Modules.Conv2d)model.GetLayer("conv1");
        var n = buffers[module.BufferOfInitializer["bn.scale"]].div(buffers[module.BufferOfInitializer["bn.var"]].add(1e-5).sqrt());
        var expectedBias = conv.bias!.detach().mul(n).add(buffers[module.BufferOfInitializer["bn.bias"]]).sub(n.mul(buffers[module.BufferOfInitializer["bn.mean"]]));
        Assert.Equal("BN2", model.FoldOutputNormalization("conv1"));
        var after = model.Forward(x);
        Assert.True(Compressor.Sdk.Reports.Sqnr.Db(before, after) > 100, $"{Compressor.Sdk.Reports.Sqnr.Db(before, after):F1} dB");
        Assert.True(allclose(conv.bias!, expectedBias, rtol: 1e-5, atol: 1e-6), "the bias holds the normalisation's shift");
        Assert.True(buffers[module.BufferOfInitializer["bn.scale"]].eq(1).all().item<bool>());
        Assert.True(buffers[module.BufferOfInitializer["bn.mean"]].eq(0).all().item<bool>());
        Assert.True(buffers[module.BufferOfInitializer["bn.bias"]].eq(0).all().item<bool>());
        Assert.True(model.OutputIsRectified("conv1"));
        // Folding again finds the identity: the function still holds.
        Assert.Equal("BN2", model.FoldOutputNormalization("conv1"));
        Assert.True(Compressor.Sdk.Reports.Sqnr.Db(before, model.Forward(x)) > 100);
        using var mlp = ModelIO.Load(Write(SmallGraphs.Mlp(), "mlp.onnx"), TestKinds.All);
        Assert.Null(mlp.FoldOutputNormalization("fc1"));
        Assert.True(mlp.OutputIsRectified("fc1"));    // MatMul + Add (one layer) → Relu
        Assert.False(mlp.OutputIsRectified("fc2"));   // the graph's output
    }

    [Fact]
    public void AFoldedNormalizationExportsAsIdentity()
    {
        // The identity normalisation a fold leaves is written as an Identity without its four parameters, and ORT
        // computes what the TorchSharp model does (the conv, whose bias the fold created or changed, is re-lowered).
        using var model = ModelIO.Load(Write(SmallGraphs.Cnn()), TestKinds.All);
        Assert.Equal("BN2", model.FoldOutputNormalization("conv1"));
        string path = Path.Combine(_dir, "folded.onnx");
        Compressor.Engine.Onnx.Export.OnnxExporter.Export(model, path, TestKinds.All);
        var written = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.DoesNotContain(written.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.DoesNotContain(written.Graph.Initializer, i => i.Name.StartsWith("bn.", StringComparison.Ordinal));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn([1, 3, 9, 9], generator: new Generator(6));
        using var ort = OrtReference.Session(path);
        var y = OrtReference.Run(ort, new Dictionary<string, Tensor> { ["x"] = x })["y"];
        Assert.True(allclose(model.Forward(x), y, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void OneOptimizerStepChangesTheReplaceableWeightsOnly()
    {
        foreach (var proto in new[] { SmallGraphs.Mlp(), SmallGraphs.Cnn() })
        {
            using var model = ModelIO.Load(Write(proto), TestKinds.All);
            var layerParams = model.Layers().SelectMany(l => l.Module.parameters()).ToList();
            Assert.NotEmpty(layerParams);
            Assert.All(layerParams, p => Assert.True(p.requires_grad));
            var before = layerParams.Select(p => p.detach().clone()).ToList();
            var buffersBefore = model.Module.buffers().Select(b => b.clone()).ToList();
            using var optimizer = optim.SGD(model.Module.parameters(), 0.1);
            using var x = proto.Graph.Input[0].Type.TensorType.Shape.Dim.Count == 2 ? randn(5, 8) : randn(1, 3, 9, 9);
            using var y = model.Forward(x);
            using var loss = y.pow(2).mean();
            optimizer.zero_grad();
            loss.backward();
            Assert.All(layerParams, p => Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0));
            optimizer.step();
            for (int i = 0; i < layerParams.Count; i++)
                Assert.False(layerParams[i].detach().equal(before[i]).all().item<bool>(), $"parameter {i} did not change");
            var buffersAfter = model.Module.buffers().ToList();
            for (int i = 0; i < buffersAfter.Count; i++) Assert.True(buffersAfter[i].equal(buffersBefore[i]).all().item<bool>());
        }
    }

    [Fact]
    public void AGatheredConstantTableIsAnEmbeddingThatTrainsAndRoundTrips()
    {
        using var model = ModelIO.Load(Write(SmallGraphs.Embed()), TestKinds.All);
        Assert.Equal([("tok", LayerType.Embedding), ("head", LayerType.Linear)], model.Layers().Select(l => (l.Name, l.Type)));
        using var ids = tensor(new long[] { 1, 2, -1, 4, 4, 9 }).reshape(2, 3); // -1 wraps to row 9, as ONNX Gather does
        using var y = model.Forward(ids);
        var table = ((TorchSharp.Modules.Embedding)model.GetLayer("tok")).weight!;
        var head = ((TorchSharp.Modules.Linear)model.GetLayer("head")).weight!;
        using (no_grad())
        {
            using var expected = table.index_select(0, tensor(new long[] { 1, 2, 9, 4, 4, 9 })).reshape(2, 3, 6).mean(new long[] { 1 }, keepdim: false).matmul(head.t());
            Assert.True(allclose(y, expected, rtol: 1e-6, atol: 1e-6));
        }
        using var loss = y.sum();
        loss.backward();
        Assert.Equal(0f, table.grad!.index_select(0, tensor(new long[] { 0, 3, 5 })).abs().sum().item<float>());
        Assert.True(table.grad!.index_select(0, tensor(new long[] { 1, 9 })).abs().sum().item<float>() > 0);
        string saved = Path.Combine(_dir, "embed.safetensors");
        using (no_grad()) table.add_(1);
        ModelIO.Save(model, saved);
        using var back = ModelIO.Load(saved, TestKinds.All);
        using var ya = model.Forward(ids);
        using var yb = back.Forward(ids);
        Assert.True(ya.equal(yb).all().item<bool>());
    }

    [Fact]
    public void AReplacedLayerTakesEffectAtTheNextRun()
    {
        using var model = ModelIO.Load(Write(SmallGraphs.Mlp()), TestKinds.All);
        using var x = randn(2, 8);
        var zero = nn.Linear(8, 16);
        using (no_grad())
        {
            zero.weight!.zero_();
            zero.bias!.fill_(-1);
        }
        model.ReplaceLayer("fc1", zero);
        Assert.Same(zero, model.GetLayer("fc1"));
        // relu(-1) = 0, so y = beta·fc2.bias for every row.
        using var y = model.Forward(x);
        var fc2 = (TorchSharp.Modules.Linear)model.GetLayer("fc2");
        Assert.True(allclose(y, fc2.bias!.detach().expand(2, 4), rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void AnUnsupportedOperatorFailsTheImportInOneLineNamingOpAndNode()
    {
        var model = Model(13, [Node("Relu", "r", ["x"], ["h"]), Node("FancyWarp", "warp_3", ["h"], ["y"])], [Float("x", 2)], [Float("y", 2)]);
        var e = Assert.Throws<CompressException>(() => ModelIO.Load(Write(model), TestKinds.All));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("'FancyWarp'", e.Message);
        Assert.Contains("'warp_3'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var contrib = Model(13, [new global::Onnx.NodeProto { OpType = "FusedMatMul", Domain = "com.microsoft", Name = "fm", Input = { "x", "x" }, Output = { "y" } }], [Float("x", 2, 2)], [Float("y", 2, 2)]);
        var e2 = Assert.Throws<CompressException>(() => OnnxImporter.Import(contrib));
        Assert.Contains("'com.microsoft.FusedMatMul' in node 'fm'", e2.Message);
    }

    [Fact]
    public void AFileThatIsNotOnnxFailsInOneLine()
    {
        string text = Path.Combine(_dir, "notes.onnx");
        File.WriteAllText(text, "this is not a protobuf file\n");
        var e = Assert.Throws<CompressException>(() => ModelIO.Load(text, TestKinds.All));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.DoesNotContain('\n', e.Message);
        string garbage = Path.Combine(_dir, "garbage.onnx");
        File.WriteAllBytes(garbage, [0x08, 0x07, 0x3a, 0x05, 0x0a, 0x03, 0x61]); // ir_version 7, then a graph cut short
        var e2 = Assert.Throws<CompressException>(() => ModelIO.Load(garbage, TestKinds.All));
        Assert.Contains("not a valid ONNX file", e2.Message);
        Assert.DoesNotContain('\n', e2.Message);
        var bytes = SmallGraphs.Mlp().ToByteArray();
        string truncated = Path.Combine(_dir, "truncated.onnx");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e3 = Assert.Throws<CompressException>(() => ModelIO.Load(truncated, TestKinds.All));
        Assert.DoesNotContain('\n', e3.Message);
    }

    [Fact]
    public void ANodeReadingAnUndefinedValueFailsInOneLine()
    {
        var model = Model(13, [Node("Add", "add_0", ["x", "ghost"], ["y"])], [Float("x", 2)], [Float("y", 2)]);
        var e = Assert.Throws<CompressException>(() => OnnxImporter.Import(model));
        Assert.Contains("'ghost'", e.Message);
    }

    [Fact]
    public void RunReportsAMissingInputInOneLineAndLeaksNoTensors()
    {
        using var model = ModelIO.Load(Write(SmallGraphs.Mlp()), TestKinds.All);
        var e = Assert.Throws<CompressException>(() => model.Run(new Dictionary<string, Tensor>()));
        Assert.Contains("missing model input 'x'", e.Message);
        using var x = randn(4, 8);
        using (var warm = model.Forward(x)) { }
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (no_grad())
        using (var y = model.Forward(x)) { }
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Theory]
    [InlineData("encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.query")]
    [InlineData("onnx::MatMul_927", "onnx__MatMul_927")]
    [InlineData("Parameter91", "Parameter91")]
    [InlineData("a..b/c:d.weight", "a.b_c_d")]
    [InlineData("...", "_")]
    public void LayerNamesAreSanitisedDottedNames(string initializer, string layer) =>
        Assert.Equal(layer, OnnxLayerNaming.LayerName(initializer));
}

using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Tests.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Import;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>ONNX files as checkpoints: recognised by content, initializers listed for inspect, and imported models
/// saved as self-contained safetensors (graph in the metadata) that reload with no other flag.</summary>
public sealed class OnnxCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("onnx-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AnOnnxFileIsRecognisedByContentAndListsItsInitializers()
    {
        string path = Path.Combine(_dir, "model.bin"); // no .onnx extension on purpose
        var proto = SmallGraphs.Mlp();
        File.WriteAllBytes(path, proto.ToByteArray());
        using var reader = CheckpointFormats.Open(path);
        Assert.Equal("onnx", reader.Format);
        Assert.Equal(["onnx::MatMul_7", "fc1.bias", "fc2.weight", "fc2.bias"], reader.Tensors.Select(t => t.Name));
        Assert.Equal([8L, 16], reader.Tensors[0].Shape);
        Assert.Equal("FLOAT", reader.Tensors[0].DType);
        Assert.Equal("ai.onnx:13", reader.Metadata["onnx.opset"]);
        using var t = reader.Read("fc2.bias");
        Assert.Equal(new long[] { 4 }, t.shape);
        Assert.False(new SafetensorsFormat().Sniff(proto.ToByteArray().AsSpan(0, 64), proto.CalculateSize()));
    }

    [Fact]
    public void AnImportedModelRoundTripsThroughSafetensorsWithoutTheOnnxFile()
    {
        string onnx = Path.Combine(_dir, "cnn.onnx");
        File.WriteAllBytes(onnx, SmallGraphs.Cnn().ToByteArray());
        using var model = ModelIO.Load(onnx, TestKinds.All);
        string saved = Path.Combine(_dir, "cnn.safetensors");
        ModelIO.Save(model, saved);
        File.Delete(onnx);
        using var back = ModelIO.Load(saved, TestKinds.All);
        Assert.Equal("onnx", back.ArchitectureName);
        Assert.Equal(model.NamedTensors().Select(t => t.Name), back.NamedTensors().Select(t => t.Name));
        using var x = randn(1, 3, 9, 9);
        using var a = model.Forward(x);
        using var b = back.Forward(x);
        Assert.True(a.equal(b).all().item<bool>());
    }

    [Fact]
    public void ACompressedLayerOfAnImportedModelRoundTrips()
    {
        string onnx = Path.Combine(_dir, "mlp.onnx");
        File.WriteAllBytes(onnx, SmallGraphs.Mlp().ToByteArray());
        using var model = ModelIO.Load(onnx, TestKinds.All);
        var fc1 = (TorchSharp.Modules.Linear)model.GetLayer("fc1");
        model.ReplaceLayer("fc1", TestQuantizedLinear.Quantize(fc1.weight!.detach(), fc1.bias!.detach(), bits: 4, groupSize: 8));
        string saved = Path.Combine(_dir, "mlp-q.safetensors");
        ModelIO.Save(model, saved);
        using (var reader = SafetensorsReader.Open(saved))
        {
            Assert.True(reader.Contains("fc1.codes"));
            Assert.False(reader.Contains("fc1.weight"));
            Assert.Contains("\"name\":\"onnx\"", reader.Metadata[ArchitectureSpec.MetadataKey]);
        }
        using var back = ModelIO.Load(saved, TestKinds.All);
        Assert.IsType<TestQuantizedLinear>(back.GetLayer("fc1"));
        Assert.IsType<ImportedModel>(back);
        using var x = randn(3, 8);
        using var ya = model.Forward(x);
        using var yb = back.Forward(x);
        Assert.True(ya.equal(yb).all().item<bool>());
    }

    [Fact]
    public void TheArchitectureCannotBeChosenWithoutItsGraph()
    {
        var e = Assert.Throws<CompressException>(() => ArchitectureRegistry.Spec("onnx"));
        Assert.Contains("graph", e.Message);
        string onnx = Path.Combine(_dir, "mlp.onnx");
        File.WriteAllBytes(onnx, SmallGraphs.Mlp().ToByteArray());
        var e2 = Assert.Throws<CompressException>(() => ModelIO.Load(onnx, TestKinds.All, ArchitectureRegistry.Spec("mlp")));
        Assert.Equal(ErrorKind.InvalidOptions, e2.Kind);
    }

    [Fact]
    public void TheStoredGraphHasNoWeightData()
    {
        using var module = OnnxImporter.Import(SmallGraphs.Mlp());
        var graph = module.GraphWithoutWeights();
        Assert.All(graph.Graph.Initializer, i => Assert.True(i.RawData.IsEmpty && i.FloatData.Count == 0));
        Assert.Equal(4, graph.Graph.Initializer.Count);
    }
}

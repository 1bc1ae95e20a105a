using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Onnx.Import;
using Compressor.Sdk.Quantization;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Compressor.Sdk.Tests.Onnx;

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
        using var model = ModelIO.Load(onnx);
        string saved = Path.Combine(_dir, "cnn.safetensors");
        ModelIO.Save(model, saved);
        File.Delete(onnx);
        using var back = ModelIO.Load(saved);
        Assert.Equal("onnx", back.Architecture!.Name);
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
        using var model = ModelIO.Load(onnx);
        var fc1 = (TorchSharp.Modules.Linear)model.GetLayer("fc1");
        var w = fc1.weight!.detach();
        var scales = w.reshape(16, 1, 8).abs().amax([-1L]).div(7);
        var codes = GroupQuantization.Quantize(w, scales, null, 4, signed: true, groupSize: 8);
        model.ReplaceLayer("fc1", QuantizedLinear.FromCodes(codes, scales, null, 4, 8, fc1.bias!.detach()));
        string saved = Path.Combine(_dir, "mlp-q.safetensors");
        ModelIO.Save(model, saved);
        using (var reader = SafetensorsReader.Open(saved))
        {
            Assert.True(reader.Contains("fc1.qweight"));
            Assert.False(reader.Contains("fc1.weight"));
            Assert.Contains("\"name\":\"onnx\"", reader.Metadata[Architectures.ArchitectureSpec.MetadataKey]);
        }
        using var back = ModelIO.Load(saved);
        Assert.IsType<QuantizedLinear>(back.GetLayer("fc1"));
        using var x = randn(3, 8);
        using var ya = model.Forward(x);
        using var yb = back.Forward(x);
        Assert.True(ya.equal(yb).all().item<bool>());
    }

    [Fact]
    public void TheArchitectureCannotBeChosenWithoutItsGraph()
    {
        var e = Assert.Throws<CompressException>(() => Architectures.ArchitectureRegistry.Spec("onnx"));
        Assert.Contains("graph", e.Message);
        string onnx = Path.Combine(_dir, "mlp.onnx");
        File.WriteAllBytes(onnx, SmallGraphs.Mlp().ToByteArray());
        var e2 = Assert.Throws<CompressException>(() => ModelIO.Load(onnx, Architectures.ArchitectureRegistry.Spec("mlp")));
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

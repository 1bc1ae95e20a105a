using Compressor.Sdk.Architectures;
using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Compression;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Quantization;
using Compressor.Sdk.Testing;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Tests;

public sealed class ModelIOTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelio-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void BuiltInModelRoundTripsWithoutFlags()
    {
        using var model = TinyModels.Mlp(seed: 1);
        string path = Path.Combine(_dir, "m.safetensors");
        ModelIO.Save(model, path);
        using var back = ModelIO.Load(path);
        Assert.Equal("mlp", back.Architecture!.Name);
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias"],
            back.NamedTensors().Select(t => t.Name));
        using var x = TinyModels.Inputs([3, 64]);
        Tolerances.AssertIdentical(model.Forward(x), back.Forward(x), "outputs");
    }

    [Fact]
    public void LayersAreAddressableAndReplaceable()
    {
        using var model = TinyModels.Cnn();
        Assert.Equal(["convs.0", "convs.2", "head"], model.Layers().Select(l => l.Name));
        Assert.Equal(["convs.2"], model.Select(LayerKind.Conv2d, new LayerSelector(["convs.*"], ["convs.0"])).Select(l => l.Name));
        model.ReplaceLayer("head", nn.Linear(16, 3));
        using var y = model.Forward(TinyModels.Inputs([2, 1, 8, 8]));
        Assert.Equal(new long[] { 2, 3 }, y.shape);
        Assert.Throws<KeyNotFoundException>(() => model.ReplaceLayer("nope", nn.Linear(1, 1)));
    }

    [Fact]
    public void CompressedLayersRoundTripAndShrinkTheFile()
    {
        using var model = TinyModels.Mlp(seed: 2, inputs: 256, hidden: [512], outputs: 10);
        var lin = (TorchSharp.Modules.Linear)model.GetLayer("layers.0");
        var w = lin.weight!.detach();
        var scales = w.reshape(512, 8, 32).abs().amax([-1L]).div(7);
        var codes = GroupQuantization.Quantize(w, scales, null, 4, signed: true, groupSize: 32);
        model.ReplaceLayer("layers.0", QuantizedLinear.FromCodes(codes, scales, null, 4, 32, lin.bias!.detach()));
        string path = Path.Combine(_dir, "q.safetensors");
        ModelIO.Save(model, path);
        // 512×256 weights at 4 bits = 65,536 B + 512×8 float scales = 16,384 B, versus 524,288 B in float32.
        var entries = SafetensorsReader.Open(path);
        using (entries)
        {
            Assert.Equal(65_536, entries.Entry("layers.0.qweight").ByteCount);
            Assert.Equal(16_384, entries.Entry("layers.0.scales").ByteCount);
            Assert.False(entries.Contains("layers.0.weight"));
        }
        using var back = ModelIO.Load(path);
        Assert.IsType<QuantizedLinear>(back.GetLayer("layers.0"));
        using var x = TinyModels.Inputs([4, 256]);
        Tolerances.AssertIdentical(model.Forward(x), back.Forward(x), "outputs");
        // Codes are exact: dequantized weight = codes·scale.
        var q = (QuantizedLinear)back.GetLayer("layers.0");
        Tolerances.AssertIdentical(codes, q.Codes(), "codes");
    }

    [Fact]
    public void UnknownArchitectureLoadsWeightsOnlyAndRoundTrips()
    {
        string path = Path.Combine(_dir, "foreign.safetensors");
        SafetensorsWriter.Write(path, [
            ("embeddings.word_embeddings.weight", randn(20, 8)), ("encoder.layer.0.dense.weight", randn(6, 8)), ("encoder.layer.0.dense.bias", randn(6)),
            ("encoder.layer.0.LayerNorm.weight", ones(6)), ("conv.weight", randn(4, 3, 3, 3)), ("step", tensor(3L)),
        ]);
        using var model = ModelIO.Load(path);
        Assert.False(model.IsExecutable);
        Assert.Null(model.Architecture);
        var kinds = model.Layers().ToDictionary(l => l.Name, l => l.Kind);
        Assert.Equal(LayerKind.Embedding, kinds["embeddings.word_embeddings"]);
        Assert.Equal(LayerKind.Linear, kinds["encoder.layer.0.dense"]);
        Assert.Equal(LayerKind.Conv2d, kinds["conv"]);
        var e = Assert.Throws<CompressException>(() => model.Forward(zeros(1, 8)));
        Assert.Contains("weights-only", e.Message);
        string again = Path.Combine(_dir, "again.safetensors");
        ModelIO.Save(model, again);
        using var r1 = SafetensorsReader.Open(path);
        using var r2 = SafetensorsReader.Open(again);
        foreach (var entry in r1.Entries) Tolerances.AssertIdentical(r1.Read(entry), r2.Read(entry.Name), entry.Name);
    }

    [Fact]
    public void ArchitectureOverrideAndMismatchesAreReported()
    {
        using var model = TinyModels.Mlp(seed: 3);
        string path = Path.Combine(_dir, "plain.safetensors");
        SafetensorsWriter.Write(path, model.NamedTensors());
        using (var asMlp = ModelIO.Load(path, ArchitectureRegistry.Spec("mlp", new JObject { ["hidden"] = new JArray(96, 48) })))
            Assert.True(asMlp.IsExecutable);
        var e = Assert.Throws<CompressException>(() => ModelIO.Load(path, ArchitectureRegistry.Spec("mlp", new JObject { ["hidden"] = new JArray(50, 48) })));
        Assert.Contains("'layers.0.weight' has shape [96, 64]", e.Message);
        Assert.Contains("the model expects [50, 64]", e.Message);
        var extra = Assert.Throws<CompressException>(() => ModelIO.Load(path, ArchitectureRegistry.Spec("mlp")));
        Assert.Contains("does not have", extra.Message);
        var u = Assert.Throws<CompressException>(() => ArchitectureRegistry.Spec("resnet1000"));
        Assert.Contains("unknown architecture", u.Message);
    }

    [Fact]
    public void ManifestWithUnknownLayerKindIsAClearError()
    {
        using var model = TinyModels.Mlp();
        string path = Path.Combine(_dir, "odd.safetensors");
        var manifest = new CompressionManifest(1, model.Architecture, [], new Dictionary<string, CompressedLayerEntry> { ["layers.0"] = new("mystery", new JObject()) });
        SafetensorsWriter.Write(path, model.NamedTensors(), new Dictionary<string, string> { [CompressionManifest.MetadataKey] = manifest.ToJson() });
        var e = Assert.Throws<CompressException>(() => ModelIO.Load(path));
        Assert.Contains("unknown compressed layer kind 'mystery'", e.Message);
    }
}

using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Compressor.Engine.Tests.Kinds;
using Compressor.Sdk.Models;
using System.Text.Json.Nodes;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

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
        using var back = ModelIO.Load(path, TestKinds.All);
        Assert.Equal("mlp", back.ArchitectureName);
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
        Assert.Equal(["convs.2"], model.Select(LayerType.Conv2d, new LayerSelector(["convs.*"], ["convs.0"])).Select(l => l.Name));
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
        // The test kind keeps one int8 code per weight (8 bits here) and one float scale per group of 32 inputs.
        var quantized = TestQuantizedLinear.Quantize(w, lin.bias!.detach(), bits: 8, groupSize: 32);
        using var codes = quantized.Codes.clone();
        model.ReplaceLayer("layers.0", quantized);
        string path = Path.Combine(_dir, "q.safetensors");
        ModelIO.Save(model, path);
        // 512×256 weights at 8 bits = 131,072 B + 512×8 float scales = 16,384 B, versus 524,288 B in float32.
        var entries = SafetensorsReader.Open(path);
        using (entries)
        {
            Assert.Equal(131_072, entries.Entry("layers.0.codes").ByteCount);
            Assert.Equal(16_384, entries.Entry("layers.0.scales").ByteCount);
            Assert.False(entries.Contains("layers.0.weight"));
            var manifest = CompressionManifest.FromJson(entries.Metadata[CompressionManifest.MetadataKey]);
            Assert.Equal(2, manifest.FormatVersion);
            var entry = manifest.Layers["layers.0"];
            Assert.Equal((TestQuantizedLinear.KindId, 2), (entry.Kind, entry.ConfigVersion));
            Assert.Equal("""{"inFeatures":256,"outFeatures":512,"bits":8,"groupSize":32,"bias":true}""", entry.Config.ToJsonString());
        }
        using var back = ModelIO.Load(path, TestKinds.All);
        Assert.IsType<TestQuantizedLinear>(back.GetLayer("layers.0"));
        using var x = TinyModels.Inputs([4, 256]);
        Tolerances.AssertIdentical(model.Forward(x), back.Forward(x), "outputs");
        // Codes are exact: dequantized weight = codes·scale.
        var q = (TestQuantizedLinear)back.GetLayer("layers.0");
        Tolerances.AssertIdentical(codes, q.Codes, "codes");
    }

    [Fact]
    public void UnknownArchitectureLoadsWeightsOnlyAndRoundTrips()
    {
        string path = Path.Combine(_dir, "foreign.safetensors");
        SafetensorsWriter.Write(path, [
            ("embeddings.word_embeddings.weight", randn(20, 8)), ("encoder.layer.0.dense.weight", randn(6, 8)), ("encoder.layer.0.dense.bias", randn(6)),
            ("encoder.layer.0.LayerNorm.weight", ones(6)), ("conv.weight", randn(4, 3, 3, 3)), ("step", tensor(3L)),
        ]);
        using var model = ModelIO.Load(path, TestKinds.All);
        Assert.False(model.IsExecutable);
        Assert.IsType<WeightsOnlyModel>(model);
        Assert.Null(model.Spec);
        Assert.Null(model.ArchitectureName);
        var kinds = model.Layers().ToDictionary(l => l.Name, l => l.Type);
        Assert.Equal(LayerType.Embedding, kinds["embeddings.word_embeddings"]);
        Assert.Equal(LayerType.Linear, kinds["encoder.layer.0.dense"]);
        Assert.Equal(LayerType.Conv2d, kinds["conv"]);
        var e = Assert.Throws<CompressException>(() => model.Forward(zeros(1, 8)));
        Assert.Contains("weights-only", e.Message);
        Assert.Contains("weights-only", Assert.Throws<CompressException>(() => model.Run(new Dictionary<string, Tensor> { ["input"] = zeros(1, 8) })).Message);
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<CompressException>(() => model.FrozenCopy()).Kind);
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
        using (var asMlp = ModelIO.Load(path, TestKinds.All, ArchitectureRegistry.Spec("mlp", new JObject { ["hidden"] = new JArray(96, 48) })))
            Assert.True(asMlp.IsExecutable);
        var e = Assert.Throws<CompressException>(() => ModelIO.Load(path, TestKinds.All, ArchitectureRegistry.Spec("mlp", new JObject { ["hidden"] = new JArray(50, 48) })));
        Assert.Contains("'layers.0.weight' has shape [96, 64]", e.Message);
        Assert.Contains("the model expects [50, 64]", e.Message);
        var extra = Assert.Throws<CompressException>(() => ModelIO.Load(path, TestKinds.All, ArchitectureRegistry.Spec("mlp")));
        Assert.Contains("does not have", extra.Message);
        var u = Assert.Throws<CompressException>(() => ArchitectureRegistry.Spec("resnet1000"));
        Assert.Contains("unknown architecture", u.Message);
    }

    [Fact]
    public void ManifestWithUnknownLayerKindIsAClearError()
    {
        using var model = TinyModels.Mlp();
        string path = Path.Combine(_dir, "odd.safetensors");
        var manifest = new CompressionManifest(2, model.Spec, [], new Dictionary<string, CompressedLayerEntry> { ["layers.0"] = new("mystery", 1, new JsonObject()) });
        SafetensorsWriter.Write(path, model.NamedTensors(), new Dictionary<string, string> { [CompressionManifest.MetadataKey] = manifest.ToJson() });
        var e = Assert.Throws<CompressException>(() => ModelIO.Load(path, TestKinds.All));
        Assert.Contains("unknown compressed layer kind 'mystery'", e.Message);
        Assert.Contains($"known: {FakeQuantLinear.KindId}, {TestQuantizedConv2d.KindId}, {TestQuantizedLinear.KindId}", e.Message);
    }

    /// <summary>A checkpoint of manifest format 1 (before config versions), written by hand as the tool wrote them:
    /// it loads (the kind upgrades its version-1 config), runs as the model it was saved from, keeps its steps, and is
    /// saved back as format 2.</summary>
    [Fact]
    public void FormatOneManifestsLoadAndUpgradeTheirConfigs()
    {
        using var model = TinyModels.Mlp(seed: 4);
        var lin = (TorchSharp.Modules.Linear)model.GetLayer("layers.0");
        model.ReplaceLayer("layers.0", TestQuantizedLinear.Quantize(lin.weight!.detach(), lin.bias!.detach(), bits: 8, groupSize: 32));
        string path = Path.Combine(_dir, "format1.safetensors");
        string spec = model.Spec!.ToJson();
        string manifest = "{\"formatVersion\":1,\"architecture\":" + spec + ",\"steps\":[{\"plugin\":\"rtn\",\"version\":\"1.0.0\",\"options\":{\"weightBits\":8}}]," +
                          "\"layers\":{\"layers.0\":{\"kind\":\"test_quantized_linear\",\"config\":{\"bits\":8,\"group\":32,\"bias\":true,\"inFeatures\":64,\"outFeatures\":96}}}}";
        SafetensorsWriter.Write(path, model.NamedTensors(), new Dictionary<string, string>
        {
            ["format"] = "pt", [ArchitectureSpec.MetadataKey] = spec, [CompressionManifest.MetadataKey] = manifest,
        });
        var kind = new TestQuantizedLinearKind();
        var kinds = new Compressor.Engine.Kinds.LayerKindSet([kind]);
        using var back = ModelIO.Load(path, kinds);
        // Built twice: on the meta device (its declared shapes checked against the file), then for real.
        Assert.Equal(2, kind.Upgrades);
        var layer = Assert.IsType<TestQuantizedLinear>(back.GetLayer("layers.0"));
        Assert.Equal(new TestQuantizedLinearConfig(64, 96, 8, 32, true), layer.TypedConfig);
        var step = Assert.Single(back.Steps);
        Assert.Equal(("rtn", "1.0.0", 8), (step.Plugin, step.Version, (int)step.Options["weightBits"]!));
        using var x = TinyModels.Inputs([3, 64]);
        Tolerances.AssertIdentical(model.Forward(x), back.Forward(x), "outputs");

        string again = Path.Combine(_dir, "format2.safetensors");
        ModelIO.Save(back, again);
        using var reader = SafetensorsReader.Open(again);
        var written = CompressionManifest.FromJson(reader.Metadata[CompressionManifest.MetadataKey]);
        Assert.Equal(2, written.FormatVersion);
        Assert.Equal(2, written.Layers["layers.0"].ConfigVersion);
        Assert.Equal(32, (int)written.Layers["layers.0"].Config["groupSize"]!);
        Assert.Null(written.Layers["layers.0"].Config["group"]);
        Assert.Equal("rtn", Assert.Single(written.Steps).Plugin);
    }

    [Fact]
    public void NewerFormatsAndConfigVersionsAreRefused()
    {
        using var model = TinyModels.Mlp(seed: 5);
        var lin = (TorchSharp.Modules.Linear)model.GetLayer("layers.2");
        model.ReplaceLayer("layers.2", TestQuantizedLinear.Quantize(lin.weight!.detach(), lin.bias!.detach(), bits: 4, groupSize: 0));
        string path = Path.Combine(_dir, "q.safetensors");
        ModelIO.Save(model, path);
        string json;
        using (var reader = SafetensorsReader.Open(path)) json = reader.Metadata[CompressionManifest.MetadataKey];

        var e = Assert.Throws<CompressException>(() => CompressionManifest.FromJson(json.Replace("\"formatVersion\":2", "\"formatVersion\":3")));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Equal("compressed checkpoint format 3 is newer than this tool's (2); update compress", e.Message);

        string newer = Path.Combine(_dir, "newer.safetensors");
        SafetensorsWriter.Write(newer, model.NamedTensors(), new Dictionary<string, string>
        {
            [CompressionManifest.MetadataKey] = json.Replace("\"configVersion\":2", "\"configVersion\":3"),
        });
        var e2 = Assert.Throws<CompressException>(() => ModelIO.Load(newer, TestKinds.All));
        Assert.Equal(ErrorKind.InvalidInput, e2.Kind);
        Assert.Equal($"compressed layer 'layers.2' (kind {TestQuantizedLinear.KindId}): config version 3 is newer than this tool's (2); update compress", e2.Message);

        var e3 = Assert.Throws<CompressException>(() => CompressionManifest.FromJson(json.Replace("\"configVersion\":2,", "")));
        Assert.Contains("malformed compression manifest: layer 'layers.2' has no valid configVersion", e3.Message);
    }

    [Fact]
    public void SavingALayerOfAKindTheModelDoesNotKnowIsRefused()
    {
        var spec = ArchitectureRegistry.Spec("mlp");
        using var model = ArchitectureRegistry.CreateModel(spec);   // no kinds
        var lin = (TorchSharp.Modules.Linear)model.GetLayer("layers.0");
        model.ReplaceLayer("layers.0", TestQuantizedLinear.Quantize(lin.weight!.detach(), null, bits: 8, groupSize: 0));
        string path = Path.Combine(_dir, "unknown-kind.safetensors");
        var e = Assert.Throws<CompressException>(() => ModelIO.Save(model, path));
        Assert.Contains($"unknown compressed layer kind '{TestQuantizedLinear.KindId}'", e.Message);
        Assert.Contains("known: none", e.Message);
        Assert.False(File.Exists(path));
    }
}

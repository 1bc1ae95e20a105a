using System.Security.Cryptography;
using Google.Protobuf;
using Newtonsoft.Json.Linq;
using Onnx;

namespace Compressor.Host.Tests;

/// <summary>Compatibility with files written before the SDK 2.0 redesign: every checkpoint of tests/Fixtures/Format1
/// (compressed layers of every kind, written by the tool at commit c7f510b; see its README) still loads and
/// <c>compress export</c> writes the same ONNX model as that tool did — byte for byte once the ModelProto's
/// <c>producer_version</c> (the engine's version) is cleared — with the same node and initializer counts (decoders:
/// the same for the key/value-cache graph they export since issue 17, see <c>cacheGraph</c> in expected.json). statsq's
/// checkpoint needs the statsq plugin's layer kinds, which export collects from the installed plugins.</summary>
public sealed class Format1Tests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Format1");

    private static JObject Expected => JObject.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json")));

    public static TheoryData<string> Checkpoints() => [.. Expected.Properties().Select(p => p.Name).Order(StringComparer.Ordinal)];

    [Fact]
    public void EveryCheckpointHasAnExpectation()
    {
        var files = Directory.GetFiles(Folder, "*.safetensors").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal);
        Assert.Equal(files, Expected.Properties().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void ExportsToTheSameOnnxAsTheToolThatWroteIt(string name)
    {
        var expected = (JObject)Expected[name]!;
        string onnx = Path.Combine(fx.NewDir("format1-" + name), "model.onnx");
        var (code, _, stderr) = HostFixture.Cli("export", Path.Combine(Folder, name + ".safetensors"), "--out", onnx, "-v", "q");
        Assert.True(code == 0, $"{name}: exit {code}: {stderr}");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx));
        int nodes = model.Graph.Node.Count, initializers = model.Graph.Initializer.Count;
        model.ProducerVersion = "";
        string sha = Convert.ToHexStringLower(SHA256.HashData(model.ToByteArray()));
        // A decoder (gpt) exports the key/value-cache graph since issue 17: the same weights and compressed layers, a
        // different graph around them. Its expectation is that graph's, recorded under "cacheGraph"; the c7f510b values
        // stay beside it for the record.
        var want = expected["cacheGraph"] as JObject ?? expected;
        if (expected["cacheGraph"] is not null) Assert.Contains(model.Graph.Input, i => i.Name == "past_key_values.0.key");
        Assert.True((int)want["nodes"]! == nodes && (int)want["initializers"]! == initializers && (string?)want["onnxSha256"] == sha,
            $"{name}: {nodes} nodes, {initializers} initializers, ONNX sha256 (producer_version cleared) {sha}; expected {want.ToString(Newtonsoft.Json.Formatting.None)}");
    }
}

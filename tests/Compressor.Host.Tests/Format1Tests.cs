using System.Security.Cryptography;
using Google.Protobuf;
using Newtonsoft.Json.Linq;
using Onnx;

namespace Compressor.Host.Tests;

/// <summary>Compatibility with files written before the SDK 2.0 redesign: every checkpoint of tests/Fixtures/Format1
/// (compressed layers of every kind, written by the tool at commit c7f510b; see its README) still loads and
/// <c>compress export</c> writes the same ONNX model as that tool did — byte for byte once the ModelProto's
/// <c>producer_version</c> (the engine's version) is cleared — with the same node and initializer counts. statsq's
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
        Assert.Equal((int)expected["nodes"]!, model.Graph.Node.Count);
        Assert.Equal((int)expected["initializers"]!, model.Graph.Initializer.Count);
        model.ProducerVersion = "";
        string sha = Convert.ToHexStringLower(SHA256.HashData(model.ToByteArray()));
        Assert.True((string?)expected["onnxSha256"] == sha, $"{name}: ONNX sha256 (producer_version cleared) {sha}, the tool at c7f510b wrote {expected["onnxSha256"]}");
    }
}

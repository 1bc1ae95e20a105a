using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

public sealed class InspectCommandTests(HostFixture fx) : IClassFixture<HostFixture>
{
    // The MLP of HostFixture: 64 → 128 → 64 → 10.
    private const long MlpParameters = 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10;

    private static List<(string, Tensor)> VitStateDict(int depth = 2, int d = 16) =>
    [
        ("cls_token", zeros(1, 1, d)), ("pos_embed", zeros(1, 5, d)),
        ("patch_embed.proj.weight", randn(d, 3, 4, 4)), ("patch_embed.proj.bias", zeros(d)),
        .. Enumerable.Range(0, depth).SelectMany(i => new (string, Tensor)[]
        {
            ($"blocks.{i}.norm1.weight", ones(d)), ($"blocks.{i}.attn.qkv.weight", randn(3 * d, d)), ($"blocks.{i}.attn.qkv.bias", zeros(3 * d)),
            ($"blocks.{i}.attn.proj.weight", randn(d, d)), ($"blocks.{i}.mlp.fc1.weight", randn(4 * d, d)), ($"blocks.{i}.mlp.fc2.weight", randn(d, 4 * d)),
        }),
        ("norm.weight", ones(d)), ("head.weight", randn(10, d)), ("head.bias", zeros(10)),
    ];

    [Fact]
    public void InspectsASafetensorsCheckpointAsTextAndJson()
    {
        var (code, stdout, stderr) = HostFixture.Cli("inspect", fx.ModelPath);
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        Assert.Contains("format        safetensors", stdout);
        Assert.Contains("architecture  mlp (built-in mlp; from metadata 'compress.", stdout);
        Assert.Contains($"parameters    {MlpParameters:N0}", stdout);
        Assert.Matches(@"NAME\s+DTYPE\s+SHAPE\s+BYTES", stdout);
        Assert.Matches(@"layers\.0\.weight\s+F32\s+\[128, 64\]\s+32768", stdout);

        var (jcode, json, jerr) = HostFixture.Cli("inspect", fx.ModelPath, "--format", "json");
        Assert.True(jcode == 0, jerr);
        var o = JObject.Parse(json);
        Assert.Equal(1, (int)o["schemaVersion"]!);
        Assert.Equal("safetensors", (string?)o["format"]);
        Assert.Equal(MlpParameters, (long)o["parameters"]!);
        Assert.Equal(MlpParameters * 4, (long)o["bytes"]!);
        Assert.Equal("mlp", (string?)o["architecture"]!["name"]);
        Assert.Equal("pt", (string?)o["metadata"]!["format"]);
        var first = (JObject)o["tensors"]![0]!;
        Assert.Equal("layers.0.weight", (string?)first["name"]);
        Assert.Equal("F32", (string?)first["dtype"]);
        Assert.Equal(new long[] { 128, 64 }, first["shape"]!.Select(x => (long)x));
        Assert.Equal(128 * 64 * 4, (long)first["bytes"]!);
    }

    [Fact]
    public void InspectsAPyTorchCheckpointAndDetectsTimmViT()
    {
        string path = Path.Combine(fx.NewDir("vit"), "deit_tiny.pth");
        var sd = VitStateDict();
        PyTorchZipWriter.Write(path, sd);
        long parameters = sd.Sum(t => t.Item2.numel());

        var (code, stdout, stderr) = HostFixture.Cli("inspect", path);
        Assert.True(code == 0, stderr);
        Assert.Contains("format        pytorch", stdout);
        Assert.Contains("architecture  vit (timm ViT/DeiT, 2 blocks; from tensor 'blocks.0.attn.qkv.weight')", stdout);
        Assert.Contains("pytorch.prefix = archive", stdout);
        Assert.Matches(@"patch_embed\.proj\.weight\s+F32\s+\[16, 3, 4, 4\]\s+3072", stdout);

        var o = JObject.Parse(HostFixture.Cli("inspect", path, "--format", "json").Out);
        Assert.Equal("pytorch", (string?)o["format"]);
        Assert.Equal(parameters, (long)o["parameters"]!);
        Assert.Equal(parameters * 4, (long)o["bytes"]!);
        Assert.Equal(sd.Count, o["tensors"]!.Count());
        Assert.Equal("torch.FloatStorage", (string?)o["tensors"]![0]!["fileDType"]);
        Assert.Equal(2, (int)o["architecture"]!["depth"]!);
    }

    public static TheoryData<string, string[]> Architectures => new()
    {
        { "gpt2", ["transformer.wte.weight", "transformer.h.0.attn.c_attn.weight", "transformer.h.1.attn.c_attn.weight"] },
        { "bert", ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight"] },
        { "resnet", ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer4.1.conv1.weight", "fc.weight"] },
        { "vit", ["patch_embed.proj.weight", "blocks.0.attn.qkv.weight"] },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void DetectsPublicArchitecturesFromTensorNames(string expected, string[] names)
    {
        string path = Path.Combine(fx.NewDir(expected), "model.safetensors");
        SafetensorsWriter.Write(path, names.Select(n => (n, zeros(2, 2))));
        var o = JObject.Parse(HostFixture.Cli("inspect", path, "--format", "json").Out);
        Assert.Equal(expected, (string?)o["architecture"]!["name"]);
    }

    [Fact]
    public void InspectsShardedAndTorchSharpCheckpoints()
    {
        string dir = fx.NewDir("sharded");
        SafetensorsWriter.Write(Path.Combine(dir, "model-00001-of-00002.safetensors"), [("a", zeros(2, 3))]);
        SafetensorsWriter.Write(Path.Combine(dir, "model-00002-of-00002.safetensors"), [("b", zeros(4))]);
        string index = Path.Combine(dir, "model.safetensors.index.json");
        File.WriteAllText(index, """{"metadata": {"total_size": 40}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}""");
        var o = JObject.Parse(HostFixture.Cli("inspect", index, "--format", "json").Out);
        Assert.Equal("sharded-safetensors", (string?)o["format"]);
        Assert.Equal(10, (long)o["parameters"]!);
        Assert.Equal("2", (string?)o["metadata"]!["index.shards"]);

        string dat = Path.Combine(dir, "model.dat");
        using (var m = TorchSharp.torch.nn.Linear(3, 2)) m.save(dat);
        var (code, stdout, stderr) = HostFixture.Cli("inspect", dat);
        Assert.True(code == 0, stderr);
        Assert.Contains("format        torchsharp", stdout);
        Assert.Contains("parameters    8", stdout);
    }

    [Fact]
    public void BadFilesFailWithOneLineAndExitCode3()
    {
        string dir = fx.NewDir("bad");
        string hostile = Path.Combine(dir, "hostile.pt");
        using (var fs = File.Create(hostile))
        {
            var zip = new StoredZipWriter(fs);
            zip.Add("archive/data.pkl", new PickleWriter().Proto().Global("os", "system").Str("touch /tmp/never").Op(0x85).Op('R').Stop());
            zip.Finish();
        }
        string garbage = Path.Combine(dir, "garbage.bin");
        File.WriteAllText(garbage, "this is not a checkpoint");
        string truncated = Path.Combine(dir, "truncated.pt");
        PyTorchZipWriter.Write(truncated, [("w", randn(32, 32))]);
        File.WriteAllBytes(truncated, File.ReadAllBytes(truncated)[..1000]);
        foreach (var (file, fragment) in new[] { (hostile, "GLOBAL os.system is not allowed"), (garbage, "unrecognised checkpoint format"),
                     (truncated, "truncated or corrupt"), (Path.Combine(dir, "missing.pt"), "no such file") })
        {
            foreach (var format in new[] { "text", "json" })
            {
                var (code, stdout, stderr) = HostFixture.Cli("inspect", file, "--format", format);
                Assert.Equal((int)ExitCode.InvalidInput, code);
                Assert.Equal("", stdout);
                Assert.StartsWith("error: ", stderr);
                Assert.Contains(fragment, stderr);
                Assert.Single(stderr.TrimEnd('\n').Split('\n'));
            }
        }
        var p = HostFixture.Process("inspect", hostile);
        Assert.Equal(3, p.Code);
        Assert.Contains("os.system", p.Err);
    }

    [Theory]
    [InlineData("resnet18", 15_908_800L, 110)]
    [InlineData("minilm", 22_713_216L, 148)]
    public void InspectsTheRealOnnxModels(string which, long parameters, int tensors)
    {
        string path = which == "resnet18" ? Compressor.Engine.Models.Pretrained.PretrainedModels.ResNet18() : Compressor.Engine.Models.Pretrained.PretrainedModels.MiniLm().ModelPath;
        var (code, stdout, stderr) = HostFixture.Cli("inspect", path, "--format", "json");
        Assert.True(code == 0, stderr);
        var o = Newtonsoft.Json.Linq.JObject.Parse(stdout);
        Assert.Equal("onnx", (string?)o["format"]);
        Assert.Equal(parameters, (long)o["parameters"]!);
        Assert.Equal(tensors, ((Newtonsoft.Json.Linq.JArray)o["tensors"]!).Count);
    }
}

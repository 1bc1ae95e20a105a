using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

public sealed class ShardedAndTorchSharpTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shards-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static string Index(params (string Tensor, string File)[] map) => new JObject
    {
        ["metadata"] = new JObject { ["total_size"] = 1234 },
        ["weight_map"] = new JObject(map.Select(m => new JProperty(m.Tensor, m.File))),
    }.ToString();

    [Fact]
    public void ShardedSafetensorsAndPyTorchCheckpointsReadAsOne()
    {
        var a = randn(4, 3);
        var b = randn(3);
        var c = arange(6, dtype: ScalarType.Int64);
        SafetensorsWriter.Write(PathOf("model-00001-of-00002.safetensors"), [("enc.weight", a), ("enc.bias", b)], new Dictionary<string, string> { ["format"] = "pt" });
        SafetensorsWriter.Write(PathOf("model-00002-of-00002.safetensors"), [("dec.ids", c)]);
        string index = PathOf("model.safetensors.index.json");
        File.WriteAllText(index, Index(("dec.ids", "model-00002-of-00002.safetensors"), ("enc.bias", "model-00001-of-00002.safetensors"), ("enc.weight", "model-00001-of-00002.safetensors")));
        using (var r = CheckpointFormats.Open(index))
        {
            Assert.Equal("sharded-safetensors", r.Format);
            Assert.Equal(["dec.ids", "enc.bias", "enc.weight"], r.Tensors.Select(t => t.Name));
            Assert.Equal("1234", r.Metadata["index.total_size"]);
            Assert.Equal("2", r.Metadata["index.shards"]);
            Tolerances.AssertIdentical(a, r.Read("enc.weight"), "enc.weight");
            Tolerances.AssertIdentical(c, r.Read("dec.ids"), "dec.ids");
        }

        Directory.CreateDirectory(PathOf("pt"));
        PyTorchZipWriter.Write(PathOf("pt/pytorch_model-00001-of-00002.bin"), [("enc.weight", a)]);
        PyTorchZipWriter.Write(PathOf("pt/pytorch_model-00002-of-00002.bin"), [("enc.bias", b)]);
        string ptIndex = PathOf("pt/pytorch_model.bin.index.json");
        File.WriteAllText(ptIndex, Index(("enc.weight", "pytorch_model-00001-of-00002.bin"), ("enc.bias", "pytorch_model-00002-of-00002.bin")));
        using var p = CheckpointFormats.Open(ptIndex);
        Assert.Equal("sharded-pytorch", p.Format);
        Tolerances.AssertIdentical(b, p.Read("enc.bias"), "enc.bias");
    }

    public static TheoryData<string, string> BadIndexes => new()
    {
        { "../outside.safetensors", "path traversal refused" },
        { "/etc/passwd", "path traversal refused" },
        { "sub/../../outside.safetensors", "path traversal refused" },
        { "missing.safetensors", "does not exist" },
        { "self.index.json", "is itself an index" },
        { "shard.safetensors:other", "path traversal refused" },
    };

    [Theory]
    [MemberData(nameof(BadIndexes))]
    public void ShardNamesAreConfinedToTheIndexFolder(string shard, string fragment)
    {
        string dir = Directory.CreateDirectory(PathOf("bad-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        SafetensorsWriter.Write(Path.Combine(_dir, "outside.safetensors"), [("w", ones(2))]);
        string index = Path.Combine(dir, "self.index.json");
        File.WriteAllText(index, Index(("w", shard)));
        var e = Assert.Throws<CompressException>(() => CheckpointFormats.Open(index).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void ATensorMissingFromItsShardOrANonIndexJsonFails()
    {
        SafetensorsWriter.Write(PathOf("s.safetensors"), [("w", ones(2))]);
        File.WriteAllText(PathOf("wrong.index.json"), Index(("v", "s.safetensors")));
        Assert.Contains("which has no such tensor", Assert.Throws<CompressException>(() => CheckpointFormats.Open(PathOf("wrong.index.json"))).Message);
        File.WriteAllText(PathOf("config.json"), """{"hidden_size": 768}""");
        Assert.Contains("without a \"weight_map\"", Assert.Throws<CompressException>(() => CheckpointFormats.Open(PathOf("config.json"))).Message);
    }

    [Fact]
    public void ReadsWhatTorchSharpModuleSaveWrites()
    {
        using var module = nn.Sequential(("fc", nn.Linear(5, 3)), ("bn", nn.BatchNorm1d(3)), ("out", nn.Linear(3, 2, hasBias: false)));
        using (no_grad()) module.named_buffers().Single(b => b.name == "bn.running_var").buffer.fill_(0.5);
        string path = PathOf("model.dat");
        module.save(path);
        using var r = CheckpointFormats.Open(path);
        Assert.Equal("torchsharp", r.Format);
        var state = module.state_dict();
        Assert.Equal(state.Keys, r.Tensors.Select(t => t.Name));
        Assert.Equal(ScalarType.Int64, r.Tensors.Single(t => t.Name == "bn.num_batches_tracked").ScalarType);
        foreach (var (name, t) in state) Tolerances.AssertIdentical(t, r.Read(name), name);

        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(PathOf("cut.dat"), bytes[..^7]);
        var e = Assert.Throws<CompressException>(() => CheckpointFormats.Open(PathOf("cut.dat")).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("past the end of the file", e.Message);
    }
}

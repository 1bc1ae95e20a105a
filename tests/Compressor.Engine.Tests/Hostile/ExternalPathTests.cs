using Compressor.Engine.IO;
using Compressor.Engine.Kinds;
using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Storage;
using Compressor.Layers;
using Google.Protobuf;
using Onnx;
using static Compressor.Engine.Tests.Onnx.OnnxGraphs;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Hostile;

/// <summary>Issue 22, case 1: a path a file names (ONNX external data, a shard of an index) is resolved with every
/// symbolic link followed and must end in a regular file inside the naming file's folder — the earlier check compared
/// strings without a trailing separator and did not follow links, so `../model-secret/x` and a link to /etc/passwd
/// were read into the exported model.</summary>
public sealed class ExternalPathTests : IDisposable
{
    private static readonly LayerKindSet Kinds = new(BuiltInLayerKinds.All);
    private readonly HostileFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>An ONNX model y = x · W whose W [2, 4] lives in external data at <paramref name="location"/>.</summary>
    private string ModelWithExternal(string folder, string location, string? offset = null)
    {
        var w = new TensorProto { Name = "fc.weight", DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        w.Dims.AddRange([2L, 4L]);
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        if (offset is not null) w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset });
        var model = Model(13, [Node("MatMul", "mm", ["x", "fc.weight"], ["y"])], [Float("x", "batch", 2)], [Float("y", "batch", 4)], [w]);
        string path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static byte[] Weights() => Enumerable.Range(0, 8).SelectMany(i => BitConverter.GetBytes((float)i)).ToArray();

    [Fact]
    public void DataInsideTheFolderLoads()
    {
        string dir = _files.Dir("ok");
        File.WriteAllBytes(Path.Combine(dir, "w.bin"), Weights());
        using var model = OnnxImporter.Load(ModelWithExternal(dir, "w.bin"), Kinds);
        Assert.Single(model.NamedTensors());
    }

    [Fact]
    public void ASiblingFolderWhoseNameExtendsTheModelFolderIsRefused()
    {
        // The case that passed a StartsWith check without a separator: /x/model vs /x/model-secret.
        string dir = _files.Dir("model");
        _files.File("model-secret/secret.bin", Weights());
        var e = HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "../model-secret/secret.bin"), Kinds));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("path traversal refused", e.Message);
    }

    [Fact]
    public void ALinkToAFileOutsideIsRefusedAndNothingIsRead()
    {
        string dir = _files.Dir("linked");
        string secret = _files.File("elsewhere/passwd", Weights());
        HostileFiles.Link(Path.Combine(dir, "pw"), secret);
        var e = HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "pw"), Kinds));
        Assert.Contains("resolves outside the folder", e.Message);
        // A link to a folder outside, then a file in it, likewise.
        HostileFiles.Link(Path.Combine(dir, "sub"), Path.GetDirectoryName(secret)!);
        Assert.Contains("resolves outside the folder", HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "sub/passwd"), Kinds)).Message);
        // /etc/passwd itself by an absolute location.
        Assert.Contains("path traversal refused", HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "/etc/passwd"), Kinds)).Message);
    }

    [Fact]
    public void ALinkThatStaysInsideIsFollowed()
    {
        string dir = _files.Dir("inside");
        File.WriteAllBytes(Path.Combine(dir, "real.bin"), Weights());
        HostileFiles.Link(Path.Combine(dir, "alias.bin"), Path.Combine(dir, "real.bin"));
        using var model = OnnxImporter.Load(ModelWithExternal(dir, "alias.bin"), Kinds);
        Assert.Single(model.NamedTensors());
    }

    [Fact]
    public void OnlyRegularFilesAreRead()
    {
        string dir = _files.Dir("special");
        HostileFiles.Fifo(Path.Combine(dir, "fifo.bin"));
        Assert.Contains("FIFO", HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "fifo.bin"), Kinds), 20).Message);
        Directory.CreateDirectory(Path.Combine(dir, "folder.bin"));
        Assert.Contains("a folder", HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "folder.bin"), Kinds)).Message);
        // /dev/zero through a link: outside the folder, and not a regular file either.
        HostileFiles.Link(Path.Combine(dir, "zero.bin"), "/dev/zero");
        HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "zero.bin"), Kinds));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-4")]
    [InlineData("99999999999999999999")]
    [InlineData("100")]
    public void ABadOffsetIsAOneLineInputError(string offset)
    {
        // Case 6: offset=abc was a FormatException (exit 1); an offset past the end must not read either.
        string dir = _files.Dir("offset-" + offset.Length);
        File.WriteAllBytes(Path.Combine(dir, "w.bin"), Weights());
        var e = HostileFiles.Refused(() => OnnxImporter.Load(ModelWithExternal(dir, "w.bin", offset), Kinds));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AShardLinkedOutsideTheIndexFolderIsRefused()
    {
        string dir = _files.Dir("sharded");
        string outside = Path.Combine(_files.Dir("outside"), "s.safetensors");
        using (var t = ones(2)) SafetensorsWriter.Write(outside, [("a", t)]);
        HostileFiles.Link(Path.Combine(dir, "shard-1.safetensors"), outside);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), """{"weight_map": {"a": "shard-1.safetensors"}}""");
        var e = HostileFiles.Refused(() => Checkpoints.CheckpointFormats.Open(Path.Combine(dir, "model.safetensors.index.json")).Dispose());
        Assert.Contains("resolves outside the folder", e.Message);
    }

    [Fact]
    public void AHuggingFaceCacheSnapshotStillLoads()
    {
        // snapshots/REV/{index, shard} are links into blobs/, as the Hugging Face cache lays them out.
        string blobs = _files.Dir("hub/blobs"), snapshot = _files.Dir("hub/snapshots/rev1");
        using (var t = ones(2)) SafetensorsWriter.Write(Path.Combine(blobs, "b1"), [("a", t)]);
        File.WriteAllText(Path.Combine(blobs, "b2"), """{"weight_map": {"a": "model-00001-of-00001.safetensors"}}""");
        HostileFiles.Link(Path.Combine(snapshot, "model-00001-of-00001.safetensors"), "../../blobs/b1");
        HostileFiles.Link(Path.Combine(snapshot, "model.safetensors.index.json"), "../../blobs/b2");
        using var reader = Checkpoints.CheckpointFormats.Open(Path.Combine(snapshot, "model.safetensors.index.json"));
        Assert.Equal(["a"], reader.Tensors.Select(t => t.Name));
    }

    [Fact]
    public void ResolveInsideRefusesTraversalInEveryForm()
    {
        string dir = _files.Dir("resolve");
        string naming = Path.Combine(dir, "index.json");
        File.WriteAllText(naming, "{}");
        File.WriteAllText(Path.Combine(dir, "ok.bin"), "x");
        Assert.Equal(InputFiles.RealPath(Path.Combine(dir, "ok.bin")), InputFiles.ResolveInside(naming, "ok.bin", "t"));
        foreach (var bad in new[] { "", "../x", "a/../../x", "/etc/passwd", "a\\b", "x\0y" })
            Assert.Throws<CompressException>(() => InputFiles.ResolveInside(naming, bad, "t"));
        Assert.Contains("does not exist", Assert.Throws<CompressException>(() => InputFiles.ResolveInside(naming, "missing.bin", "t")).Message);
    }
}

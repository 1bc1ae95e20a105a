using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Storage;
using Compressor.Layers;
using Google.Protobuf;
using Newtonsoft.Json.Linq;
using Onnx;
using static Compressor.Engine.Tests.Onnx.OnnxGraphs;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Hostile;

/// <summary>Issue 22, cases 2 and 6: a declared shape is checked against the bytes present (and for overflow) before
/// anything of its size is allocated. Before, a 776-byte checkpoint whose metadata graph declared a 40000×40000
/// initializer was materialised as zeros (killed at 4 GiB), a 20 KB file declaring a 20000×20000 MLP reached 1.7 GB, and
/// ONNX dims [4, 2.5e9] with 64 bytes allocated 40 GB before failing.</summary>
public sealed class DeclaredShapeTests : IDisposable
{
    private static readonly LayerKindSet Kinds = new(BuiltInLayerKinds.All);
    private readonly HostileFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>Runs <paramref name="action"/>, which must be refused, and checks that the process's peak resident
    /// memory grew by less than <paramref name="maxGrowthMb"/> MB meanwhile (the refused shapes declare gigabytes).</summary>
    private static CompressException RefusedWithoutAllocating(Action action, long maxGrowthMb = 600)
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        long before = self.PeakWorkingSet64;
        var e = HostileFiles.Refused(action, 60);
        self.Refresh();
        long grown = self.PeakWorkingSet64 - before;
        Assert.True(grown < maxGrowthMb << 20, $"peak RSS grew by {grown >> 20} MB while refusing: {e.Message}");
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    private static TensorProto Declared(string name, long[] dims, byte[]? raw = null)
    {
        var p = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        p.Dims.AddRange(dims);
        if (raw is not null) p.RawData = ByteString.CopyFrom(raw);
        return p;
    }

    private static ModelProto MatMulModel(TensorProto weight, long inFeatures = 4) =>
        Model(13, [Node("MatMul", "mm", ["x", weight.Name], ["y"])], [Float("x", "batch", inFeatures)], [Float("y", "batch", 2)], [weight]);

    [Theory]
    [InlineData(new long[] { 4, 2_500_000_000 }, 64)]       // 40 GB declared, 64 bytes present
    [InlineData(new long[] { 1L << 40, 1L << 40 }, 0)]      // overflows
    [InlineData(new long[] { 40000, 40000 }, 0)]            // dims with no data at all
    [InlineData(new long[] { 0, long.MaxValue, long.MaxValue }, 0)]
    public void OnnxInitializersAreCheckedAgainstTheirBytesBeforeAllocation(long[] dims, int bytes)
    {
        var model = MatMulModel(Declared("w", dims, bytes > 0 ? new byte[bytes] : null));
        var e = RefusedWithoutAllocating(() => OnnxImporter.ToModel(model, null, "m.onnx", Kinds).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.StartsWith("m.onnx: initializer 'w'", e.Message);
    }

    [Fact]
    public void AMatMulOfMismatchedShapesIsAnInputErrorNamingTheNode()
    {
        // Weight [3, 2] behind an input of width 4: libtorch's own exception used to escape (exit 1).
        var model = MatMulModel(Init("w", ones(3, 2)), inFeatures: 4);
        using var imported = OnnxImporter.Import(model, null, "m.onnx");
        var e = Assert.Throws<CompressException>(() => imported.forward(ones(1, 4)).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("ONNX node", e.Message);
    }

    [Fact]
    public void AGraphInACheckpointsMetadataCannotDeclareMoreThanTheFileHolds()
    {
        // 776 bytes: a tiny tensor and an architecture graph declaring a 40000×40000 (6.4 GB) initializer.
        var graph = MatMulModel(Declared("huge", [40000, 40000]), inFeatures: 40000);
        var spec = new ArchitectureSpec(OnnxArchitecture.ArchitectureName, new JObject { [OnnxArchitecture.GraphKey] = Convert.ToBase64String(graph.ToByteArray()) });
        string path = Path.Combine(_files.Root, "graph-bomb.safetensors");
        using (var t = ones(2)) SafetensorsWriter.Write(path, [("huge", t)], new Dictionary<string, string> { [ArchitectureSpec.MetadataKey] = spec.ToJson() });
        Assert.True(new FileInfo(path).Length < 2000);
        var e = RefusedWithoutAllocating(() => ModelIO.Load(path, Kinds).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        RefusedWithoutAllocating(() => ModelIO.Declare(path, Kinds));
    }

    [Fact]
    public void AnArchitectureConfigCannotDeclareMoreThanTheFileHolds()
    {
        // A 20000×20000 MLP declared by metadata over a file of two small tensors.
        var spec = new ArchitectureSpec("mlp", new JObject { ["inputs"] = 20000, ["hidden"] = new JArray(20000), ["outputs"] = 20000 });
        string path = Path.Combine(_files.Root, "mlp-bomb.safetensors");
        using (var t = ones(2)) SafetensorsWriter.Write(path, [("layers.0.weight", t)], new Dictionary<string, string> { [ArchitectureSpec.MetadataKey] = spec.ToJson() });
        var e = RefusedWithoutAllocating(() => ModelIO.Load(path, Kinds).Dispose());
        Assert.Contains("tensor(s) the model needs", e.Message);
    }

    [Fact]
    public void DeclareMeasuresAModelWithoutLoadingIt()
    {
        var spec = new ArchitectureSpec("mlp", new JObject { ["inputs"] = 8, ["hidden"] = new JArray(16), ["outputs"] = 4 });
        using var model = ArchitectureRegistry.CreateModel(ArchitectureRegistry.Spec("mlp", spec.Config), Kinds);
        string path = Path.Combine(_files.Root, "mlp.safetensors");
        ModelIO.Save(model, path);
        var d = ModelIO.Declare(path, Kinds);
        Assert.Equal((8 * 16 + 16 + 16 * 4 + 4) * 4, d.ModelTensorBytes);
        Assert.Equal(d.FileTensorBytes, d.ModelTensorBytes);
        Assert.True(d.Executable);
        Assert.False(Memory.MetaDevice.IsActive);   // the meta scope is closed again
    }

    [Fact]
    public void SafetensorsShapesWhoseNonZeroDimensionsOverflowAreRefused()
    {
        // [0, 2^63-1, 2^63-1]: zero elements, yet libtorch refuses the shape with its own exception (exit 1 before).
        string header = """{"t":{"dtype":"F32","shape":[0,9223372036854775807,9223372036854775807],"data_offsets":[0,0]}}""";
        string path = _files.File("overflow.safetensors", Safetensors(header, []));
        var e = HostileFiles.Refused(() => SafetensorsReader.Open(path).Dispose());
        Assert.Contains("overflows", e.Message);
    }

    internal static byte[] Safetensors(string header, byte[] data)
    {
        var h = System.Text.Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)h.Length), .. h, .. data];
    }
}

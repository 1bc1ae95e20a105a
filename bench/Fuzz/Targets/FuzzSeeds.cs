using System.IO.Compression;
using System.Text;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Fuzz;

/// <summary>Small valid inputs for each target, written by the tool's own writers (or, for ONNX, built node by
/// node), from which the fuzzers mutate.</summary>
public static class FuzzSeeds
{
    /// <summary>Writes the seeds of every target to <c>DIR/TARGET/seed-N.EXT</c> and returns the folders.</summary>
    public static IReadOnlyDictionary<string, string> WriteAll(string directory)
    {
        var folders = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var target in FuzzTargets.All)
        {
            string dir = Path.Combine(directory, target.Name);
            Directory.CreateDirectory(dir);
            int i = 0;
            foreach (var seed in For(target.Name, dir)) File.WriteAllBytes(Path.Combine(dir, $"seed-{i++}{target.Extension}"), seed);
            folders[target.Name] = dir;
        }
        return folders;
    }

    /// <summary>The seeds of the target named <paramref name="name"/> (<paramref name="scratch"/>: a folder for the
    /// writers that need a file).</summary>
    public static IEnumerable<byte[]> For(string name, string scratch)
    {
        manual_seed(7);
        string tmp = Path.Combine(scratch, ".seed.tmp");
        try
        {
            switch (name)
            {
                case "safetensors":
                    SafetensorsWriter.Write(tmp, [("a.weight", randn(3, 4)), ("a.bias", zeros(3, ScalarType.Float16)), ("i", arange(4, dtype: ScalarType.Int64))], new Dictionary<string, string> { ["format"] = "pt" });
                    yield return File.ReadAllBytes(tmp);
                    SafetensorsWriter.Write(tmp, [("x", ones(2, 2, ScalarType.BFloat16))]);
                    yield return File.ReadAllBytes(tmp);
                    break;
                case "pytorch-zip":
                    yield return TorchZip(tmp);
                    break;
                case "pickle":
                    using (var zip = ZipFile.OpenRead(WriteTorchZip(tmp)))
                    {
                        var entry = zip.Entries.First(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal));
                        using var ms = new MemoryStream();
                        using (var s = entry.Open()) s.CopyTo(ms);
                        yield return ms.ToArray();
                    }
                    break;
                case "onnx":
                    yield return Onnx().ToByteArray();
                    break;
                case "idx":
                    yield return [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2, .. Enumerable.Range(0, 12).Select(v => (byte)(v * 20))];
                    yield return [0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4];
                    break;
                case "recipe":
                    yield return Encoding.UTF8.GetBytes("""{"seed": 3, "steps": [{"plugin": "rtn", "options": {"weightBits": 4, "groupSize": 32, "include": ["fc*"]}}, {"plugin": "x", "version": "1.0.0", "options": null}]}""");
                    break;
                case "manifest":
                    yield return Encoding.UTF8.GetBytes("""{"id": "rtn", "version": "1.0.0", "sdkVersion": "1.0.0", "description": "Round to nearest", "kind": "quantization", "needs": "none", "targets": ["linear", "conv2d"], "assembly": "RoundToNearest.dll", "entryType": "RoundToNearest.RoundToNearestPlugin"}""");
                    break;
                case "onnx-external":
                    foreach (var location in new[] { FuzzFolders.InsideFile, FuzzFolders.LinkName, "../outside/secret.bin", FuzzFolders.SecretPath })
                        yield return OnnxExternal(location).ToByteArray();
                    break;
                case "checkpoint":
                    var mlp = Compressor.Engine.Checkpoints.ArchitectureRegistry.Spec("mlp", new Newtonsoft.Json.Linq.JObject { ["inputs"] = 6, ["hidden"] = new Newtonsoft.Json.Linq.JArray(5), ["outputs"] = 3 });
                    using (var model = Compressor.Engine.Checkpoints.ArchitectureRegistry.CreateModel(mlp)) Compressor.Engine.Checkpoints.ModelIO.Save(model, tmp);
                    yield return File.ReadAllBytes(tmp);
                    using (var imported = Compressor.Engine.Onnx.Import.OnnxImporter.ToModel(Onnx(), null, "seed", new Compressor.Engine.Kinds.LayerKindSet(Compressor.Layers.BuiltInLayerKinds.All)))
                        Compressor.Engine.Checkpoints.ModelIO.Save(imported, tmp);
                    yield return File.ReadAllBytes(tmp);
                    break;
                case "torchsharp":
                    using (var m = nn.Sequential(("fc", nn.Linear(6, 4)), ("bn", nn.BatchNorm1d(4)))) m.save(tmp);
                    yield return File.ReadAllBytes(tmp);
                    break;
                default:
                    throw new ArgumentException($"no seeds for '{name}'");
            }
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static string WriteTorchZip(string path)
    {
        PyTorchZipWriter.Write(path, [("w", randn(4, 4)), ("b", randn(4).to_type(ScalarType.Float16)), ("i", arange(5, dtype: ScalarType.Int64))]);
        return path;
    }

    private static byte[] TorchZip(string path) => File.ReadAllBytes(WriteTorchZip(path));

    /// <summary>The model of <see cref="Onnx"/> with its weight in external data at <paramref name="location"/> (12 float32
    /// values from offset 0 of the file).</summary>
    private static ModelProto OnnxExternal(string location)
    {
        var model = Onnx();
        var w = model.Graph.Initializer.Single(i => i.Name == "fc.weight");
        w.RawData = ByteString.Empty;
        w.DataLocation = TensorProto.Types.DataLocation.External;
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "48" });
        return model;
    }

    /// <summary>y = Relu(x · W + b) with Gemm and a Flatten, float weights as raw data.</summary>
    private static ModelProto Onnx()
    {
        static TensorProto Init(string name, long[] dims, float[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(dims);
            t.RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray());
            return t;
        }
        static ValueInfoProto Value(string name, params long[] dims)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
            foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
        }
        static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
        {
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.AddRange(inputs);
            n.Output.AddRange(outputs);
            n.Attribute.AddRange(attributes);
            return n;
        }
        var graph = new GraphProto { Name = "seed" };
        graph.Input.Add(Value("x", 4));
        graph.Output.Add(Value("y", 3));
        graph.Initializer.Add(Init("fc.weight", [3, 4], [.. Enumerable.Range(0, 12).Select(i => i * 0.1f - 0.5f)]));
        graph.Initializer.Add(Init("fc.bias", [3], [0.1f, -0.2f, 0.3f]));
        graph.Node.Add(Node("Gemm", "fc", ["x", "fc.weight", "fc.bias"], ["h"], new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 }));
        graph.Node.Add(Node("Relu", "act", ["h"], ["y"]));
        var model = new ModelProto { IrVersion = 8, ProducerName = "compress-fuzz", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model;
    }
}

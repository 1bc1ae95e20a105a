using System.Text;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Plugins;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using Compressor.Host.Pipeline;
using Compressor.Layers;
using Compressor.Sdk;

namespace Compressor.Fuzz;

/// <summary>The fuzz targets: one per parser of untrusted bytes, each calling the same entry point the tool uses.</summary>
public static class FuzzTargets
{
    /// <summary>The layer kinds an imported model is built with (an imported graph holds no compressed layer).</summary>
    private static readonly LayerKindSet Kinds = new(BuiltInLayerKinds.All);

    /// <summary>Every target.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("safetensors", ".safetensors", (path, _) => ReadAll(SafetensorsReader.Open(path))),
        new("pytorch-zip", ".pt", (path, _) => ReadAll(PyTorchZipReader.Open(path))),
        new("pickle", ".pkl", (_, bytes) => Unpickle(bytes)),
        new("onnx", ".onnx", (_, bytes) => ImportOnnx(bytes)),
        new("idx", ".idx", (path, _) => { using var t = IdxReader.ReadBytes(path); return t.NumberOfElements; }),
        new("recipe", ".json", (path, _) => { Recipe.Load(path); return 0; }),
        new("manifest", ".json", (_, bytes) => { PluginManifest.Parse(Encoding.UTF8.GetString(bytes)); return 0; }),
        new("torchsharp", ".dat", (path, _) => ReadAll(TorchSharpReader.Open(path))),
        new("onnx-external", ".onnx", (_, bytes) => ImportOnnxWithExternalData(bytes)),
        new("checkpoint", ".safetensors", (path, _) => LoadModel(path)),
    ];

    /// <summary>The target named <paramref name="name"/>.</summary>
    public static FuzzTarget Get(string name) => All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown fuzz target '{name}' (known: {string.Join(", ", All.Select(t => t.Name))})");

    private static long ReadAll(ICheckpointReader reader)
    {
        using (reader)
        {
            long bytes = 0;
            foreach (var entry in reader.Tensors)
            {
                using var t = reader.Read(entry.Name);
                bytes += t.NumberOfElements * t.ElementSize;
            }
            return bytes;
        }
    }

    /// <summary>The pickle of a <c>torch.save</c> archive alone, with storages resolved as the zip reader does: a
    /// storage must be one of two records of 64 elements each.</summary>
    private static long Unpickle(byte[] bytes)
    {
        StorageRef Resolve(string type, string key, string location, long n)
        {
            if (key is not ("0" or "1" or "2" or "3") || n > 64) throw new CompressException(ErrorKind.InvalidInput, $"fuzz: no storage '{key}' of {n} elements");
            if (!RestrictedUnpickler.StorageTypes.TryGetValue(type, out var st)) throw new CompressException(ErrorKind.InvalidInput, $"fuzz: storage type '{type}'");
            return new StorageRef(type, st.Type, st.Size, key, location, n);
        }
        var root = new RestrictedUnpickler(bytes, "fuzz", Resolve).Load();
        var (tensors, _) = StateDictFlattener.Flatten(root, "fuzz");
        _ = tensors;  // references to storages: no tensor data is produced
        return 0;
    }

    /// <summary>An ONNX model in <see cref="FuzzFolders.Base"/>, its external data resolved there; fails the run (an
    /// invariant, not a refusal) when a tensor holds the secret outside the folder.</summary>
    private static long ImportOnnxWithExternalData(byte[] bytes)
    {
        var proto = OnnxImporter.ParseModel(bytes, "fuzz");
        using var model = OnnxImporter.ToModel(proto, FuzzFolders.Base, "fuzz", Kinds);
        long total = 0;
        foreach (var (name, t) in model.NamedTensors())
        {
            total += t.NumberOfElements * t.ElementSize;
            if (t.dtype == TorchSharp.torch.ScalarType.Float32 && t.NumberOfElements > 0)
            {
                using var c = t.contiguous();
                if (FuzzFolders.HoldsSecret(c.data<float>().ToArray()))
                    throw new FuzzInvariantException($"onnx-external: tensor '{name}' holds the bytes of {FuzzFolders.SecretPath}, outside the model's folder");
            }
        }
        return total;
    }

    /// <summary>A checkpoint loaded as <c>compress</c> loads one (its architecture and compression manifest from its
    /// metadata, built on the meta device and compared with the file before allocation); returns the model's bytes.</summary>
    private static long LoadModel(string path)
    {
        using var model = Compressor.Engine.Checkpoints.ModelIO.Load(path, Kinds);
        long total = 0;
        foreach (var (_, t) in model.NamedTensors()) total += t.NumberOfElements * t.ElementSize;
        return total;
    }

    private static long ImportOnnx(byte[] bytes)
    {
        var proto = OnnxImporter.ParseModel(bytes, "fuzz");
        using var model = OnnxImporter.ToModel(proto, baseDirectory: null, "fuzz", Kinds);
        long total = 0;
        foreach (var (_, t) in model.NamedTensors()) total += t.NumberOfElements * t.ElementSize;
        return total;
    }
}

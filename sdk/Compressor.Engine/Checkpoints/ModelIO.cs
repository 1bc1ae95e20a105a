using Compressor.Sdk.Architectures;
using Compressor.Sdk.Compression;
using Compressor.Sdk.Models;
using Compressor.Sdk.Onnx.Import;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Checkpoints;

/// <summary>Loads checkpoints into <see cref="CompressibleModel"/>s and saves models as safetensors with their
/// architecture and compression manifest in the metadata, so that a file written by <c>compress</c> reloads into
/// the same module tree with no other flag.</summary>
public static class ModelIO
{
    /// <summary>Loads <paramref name="path"/>, in a format chosen by content. An ONNX file is imported as an executable
    /// model (<see cref="OnnxImporter"/>). For a safetensors file the architecture comes from
    /// <paramref name="architecture"/> when given, else from the file's metadata (a checkpoint of an imported ONNX model
    /// carries its graph there, see <see cref="OnnxArchitecture"/>); without either, the model is weights-only.</summary>
    /// <exception cref="CompressException">Unreadable, malformed or mismatching file, in one line.</exception>
    public static CompressibleModel Load(string path, ArchitectureSpec? architecture = null)
    {
        if (!File.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"{path}: no such file");
        using var reader = CheckpointFormats.Open(path);
        if (reader is OnnxCheckpointReader onnx)
        {
            if (architecture is not null && !string.Equals(architecture.Name, OnnxArchitecture.ArchitectureName, StringComparison.OrdinalIgnoreCase))
                throw new CompressException(ErrorKind.InvalidOptions, $"{path}: an ONNX model carries its own graph; --arch {architecture.Name} does not apply");
            return OnnxImporter.ToCompressibleModel(onnx.Model, Path.GetDirectoryName(Path.GetFullPath(path)), path);
        }
        CompressionManifest? manifest = reader.Metadata.TryGetValue(CompressionManifest.MetadataKey, out var mj) ? CompressionManifest.FromJson(mj) : null;
        var arch = architecture ?? manifest?.Architecture
                   ?? (reader.Metadata.TryGetValue(ArchitectureSpec.MetadataKey, out var aj) ? ArchitectureSpec.FromJson(aj) : null);
        var compressed = manifest?.Layers ?? new Dictionary<string, CompressedLayerEntry>();
        nn.Module module;
        if (arch is not null)
        {
            arch = ArchitectureRegistry.Spec(arch.Name, arch.Config);
            module = ArchitectureRegistry.Create(arch);
            var model = new CompressibleModel(module, arch, manifest?.Steps);
            try
            {
                foreach (var (name, entry) in compressed.OrderByDescending(kv => kv.Key.Length))
                {
                    try { model.ReplaceLayer(name, CompressedLayerRegistry.Create(entry.Kind, entry.Config)); }
                    catch (KeyNotFoundException) { throw new CompressException(ErrorKind.InvalidInput, $"{path}: compressed layer '{name}' does not exist in architecture {arch.Name}"); }
                }
                // A checkpoint compress did not write is in its ecosystem's layout: let the architecture convert it.
                bool foreign = manifest is null && !reader.Metadata.ContainsKey(ArchitectureSpec.MetadataKey);
                var a = ArchitectureRegistry.Get(arch.Name);
                LoadTensors(model.Module, reader, strict: true, foreign ? a.FromEcosystem : null, foreign ? a.IsRedundantEcosystemTensor : null);
                return model;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        bool UnderCompressed(string tensor) => compressed.Keys.Any(l => tensor.StartsWith(l + ".", StringComparison.Ordinal));
        var plain = reader.Tensors.Where(e => !UnderCompressed(e.Name)).Select(e => (e.Name, e.Shape, e.ScalarType)).ToList();
        var root = WeightsOnlyModule.Build(plain);
        try
        {
            foreach (var (name, entry) in compressed.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                root.Insert(name, CompressedLayerRegistry.Create(entry.Kind, entry.Config));
            LoadTensors(root, reader, strict: true);
            return new CompressibleModel(root, null, manifest?.Steps);
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    /// <summary>Saves <paramref name="model"/> (its compressed representation as is) to <paramref name="path"/>, atomically.</summary>
    public static void Save(CompressibleModel model, string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (extraMetadata is not null) foreach (var (k, v) in extraMetadata) metadata[k] = v;
        if (model.Architecture is not null) metadata[ArchitectureSpec.MetadataKey] = model.Architecture.ToJson();
        metadata[CompressionManifest.MetadataKey] = CompressionManifest.Of(model).ToJson();
        using var scope = NewDisposeScope();
        var tensors = model.NamedTensors().Select(t => (t.Name, t.Tensor.detach())).ToList();
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>Copies every parameter and buffer of <paramref name="module"/> from the file, by name. With
    /// <paramref name="strict"/>, a tensor the file lacks or a tensor the module lacks is an error.</summary>
    public static void LoadTensors(nn.Module module, ICheckpointReader reader, bool strict,
        Func<string, Tensor, Tensor>? convert = null, Func<string, bool>? redundant = null)
    {
        var state = module.state_dict();
        if (strict)
        {
            var missing = state.Keys.Where(k => !reader.Contains(k)).ToList();
            if (missing.Count > 0)
                throw new CompressException(ErrorKind.InvalidInput, $"{reader.Path}: missing {missing.Count} tensor(s) the model needs, e.g. '{missing[0]}'");
            var extra = reader.Tensors.Select(e => e.Name).Where(n => !state.ContainsKey(n) && !(redundant?.Invoke(n) ?? false)).ToList();
            if (extra.Count > 0)
                throw new CompressException(ErrorKind.InvalidInput, $"{reader.Path}: {extra.Count} tensor(s) the model does not have, e.g. '{extra[0]}'");
        }
        var entries = reader.Tensors.ToDictionary(e => e.Name);
        using var noGrad = no_grad();
        foreach (var (name, target) in state)
        {
            if (!reader.Contains(name)) continue;
            var entry = entries[name];
            if (convert is null && !entry.Shape.SequenceEqual(target.shape))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{reader.Path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], the model expects [{string.Join(", ", target.shape)}]");
            using var read = reader.Read(name);
            using var t = convert is null ? read.alias() : convert(name, read);
            if (!t.shape.SequenceEqual(target.shape))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{reader.Path}: tensor '{name}' has shape [{string.Join(", ", t.shape)}] (in this model's layout), the model expects [{string.Join(", ", target.shape)}]");
            if (t.dtype != target.dtype && (t.dtype.IsFloatingPoint() != target.dtype.IsFloatingPoint()))
                throw new CompressException(ErrorKind.InvalidInput, $"{reader.Path}: tensor '{name}' is {entry.DType}, the model expects {target.dtype}");
            target.copy_(t);
        }
    }
}

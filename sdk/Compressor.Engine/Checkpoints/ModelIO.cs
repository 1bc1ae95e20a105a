using Compressor.Engine.IO;
using Compressor.Engine.Kinds;
using Compressor.Engine.Memory;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Storage;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Checkpoints;

/// <summary>Loads checkpoints into <see cref="EngineModel"/>s and saves models as safetensors with their
/// architecture and compression manifest in the metadata, so that a file written by <c>compress</c> reloads into
/// the same module tree with no other flag. Compressed layers are rebuilt by the kinds handed in.</summary>
public static class ModelIO
{
    /// <summary>Loads <paramref name="path"/>, in a format chosen by content. An ONNX file is imported as an executable
    /// model (<see cref="ImportedModel"/>). For a safetensors file the architecture comes from
    /// <paramref name="architecture"/> when given, else from the file's metadata (a checkpoint of an imported ONNX model
    /// carries its graph there, see <see cref="OnnxArchitecture"/>); without either, the model is weights-only
    /// (<see cref="WeightsOnlyModel"/>).</summary>
    /// <param name="path">The checkpoint.</param>
    /// <param name="kinds">The compressed layer kinds that rebuild the file's compressed layers.</param>
    /// <param name="architecture">The architecture to load it as (<c>--arch</c>), or null.</param>
    /// <exception cref="CompressException">Unreadable, malformed or mismatching file, or a compressed layer of an
    /// unknown kind, in one line.</exception>
    public static EngineModel Load(string path, LayerKindSet kinds, ArchitectureSpec? architecture = null) => Load(path, kinds, architecture, null);

    /// <summary>As <see cref="Load(string, LayerKindSet, ArchitectureSpec?)"/>, and also: a Hugging Face or timm model
    /// folder (<see cref="ModelFolder"/>: config.json + weights), and a foreign checkpoint without a config whose sizes
    /// are inferred from its tensors (<see cref="ShapeInference"/>) for the family it is detected as or that
    /// <paramref name="foreign"/> names.</summary>
    /// <exception cref="CompressException">As the other overload; a folder without config or weights, a config the
    /// tensors disagree with, sizes the tensors do not determine (one line naming the file and the key).</exception>
    public static EngineModel Load(string path, LayerKindSet kinds, ArchitectureSpec? architecture, ForeignModelOptions? foreign) =>
        Open(path, kinds, architecture, foreign, materialize: true).Model!;

    /// <summary>What loading <paramref name="path"/> would allocate, found without allocating it: the model is built on
    /// the meta device (<see cref="MetaDevice"/>) and its declared tensors are compared with those the file holds —
    /// the same checks, and the same errors, as <see cref="Load(string, LayerKindSet, ArchitectureSpec?, ForeignModelOptions?)"/>.</summary>
    /// <exception cref="CompressException">As <see cref="Load(string, LayerKindSet, ArchitectureSpec?, ForeignModelOptions?)"/>.</exception>
    public static ModelDeclaration Declare(string path, LayerKindSet kinds, ArchitectureSpec? architecture = null, ForeignModelOptions? foreign = null) =>
        Open(path, kinds, architecture, foreign, materialize: false).Declaration;

    private static (EngineModel? Model, ModelDeclaration Declaration) Open(string path, LayerKindSet kinds, ArchitectureSpec? architecture,
        ForeignModelOptions? foreign, bool materialize)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        if (architecture is null && ModelFolder.IsFolder(path))
        {
            var folder = ModelFolder.Open(path, foreign?.Heads);
            return OpenForeign(folder.WeightsPath, kinds, folder.Spec, $" (sizes from {folder.ConfigPath})", materialize);
        }
        InputFiles.RequireRegular(path);
        if (architecture is null && ForeignSpec(path, foreign) is { } inferred)
            return OpenForeign(path, kinds, inferred, " (sizes inferred from its tensors)", materialize);
        if (architecture is null && foreign?.Architecture is { } named) architecture = ArchitectureRegistry.Spec(named);
        using var reader = CheckpointFormats.Open(path);
        long fileTensorBytes = reader.Tensors.Aggregate(0L, (sum, t) => sum > long.MaxValue - t.ByteCount ? long.MaxValue : sum + t.ByteCount);
        if (reader is OnnxCheckpointReader onnx)
        {
            if (architecture is not null && !string.Equals(architecture.Name, OnnxArchitecture.ArchitectureName, StringComparison.OrdinalIgnoreCase))
                throw new CompressException(ErrorKind.InvalidOptions, $"{path}: an ONNX model carries its own graph; --arch {architecture.Name} does not apply");
            // The importer checks every initializer's declared shape against the bytes present before allocating it.
            var declaration = new ModelDeclaration(reader.Format, fileTensorBytes, fileTensorBytes, Executable: true);
            return materialize ? (OnnxImporter.ToModel(onnx.Model, Path.GetDirectoryName(Path.GetFullPath(path)), path, kinds), declaration) : (null, declaration);
        }
        CompressionManifest? manifest = reader.Metadata.TryGetValue(CompressionManifest.MetadataKey, out var mj) ? CompressionManifest.FromJson(mj) : null;
        var arch = architecture ?? manifest?.Architecture
                   ?? (reader.Metadata.TryGetValue(ArchitectureSpec.MetadataKey, out var aj) ? ArchitectureSpec.FromJson(aj) : null);
        var compressed = manifest?.Layers ?? new Dictionary<string, CompressedLayerEntry>();
        if (arch is not null)
        {
            arch = ArchitectureRegistry.Spec(arch.Name, arch.Config);
            // A checkpoint compress did not write is in its ecosystem's layout: let the architecture convert it.
            bool foreignLayout = manifest is null && !reader.Metadata.ContainsKey(ArchitectureSpec.MetadataKey);
            var a = ArchitectureRegistry.Get(arch.Name);
            using var renamed = foreignLayout ? new RenamedCheckpointReader(CheckpointFormats.Open(path), a.ToModuleName) : null;
            ICheckpointReader tensors = renamed ?? reader;
            EngineModel Build()
            {
                var model = ArchitectureRegistry.CreateModel(arch, kinds, manifest?.Steps);
                try
                {
                    foreach (var (name, entry) in compressed.OrderByDescending(kv => kv.Key.Length))
                    {
                        try { model.ReplaceLayer(name, LayerConfigJson.Create(kinds, entry.Kind, entry.ConfigVersion, entry.Config, name)); }
                        catch (KeyNotFoundException) { throw new CompressException(ErrorKind.InvalidInput, $"{path}: compressed layer '{name}' does not exist in architecture {arch.Name}"); }
                    }
                    return model;
                }
                catch
                {
                    model.Dispose();
                    throw;
                }
            }
            // What the architecture (or the file's metadata) declares is checked against the tensors present before
            // anything of its size is allocated.
            long declared;
            using (MetaDevice.Scope())
            using (var probe = Build())
                declared = ModuleTensors.CheckShapes(probe.Module, tensors, strict: true, layoutConverted: foreignLayout, foreignLayout ? a.IsRedundantEcosystemTensor : null);
            var declaration = new ModelDeclaration(reader.Format, fileTensorBytes, declared, Executable: true);
            if (!materialize) return (null, declaration);
            var built = Build();
            try
            {
                LoadTensors(built.Module, tensors, strict: true, foreignLayout ? a.FromEcosystem : null, foreignLayout ? a.IsRedundantEcosystemTensor : null);
                return (built, declaration);
            }
            catch
            {
                built.Dispose();
                throw;
            }
        }
        bool UnderCompressed(string tensor) => compressed.Keys.Any(l => tensor.StartsWith(l + ".", StringComparison.Ordinal));
        var plain = reader.Tensors.Where(e => !UnderCompressed(e.Name)).Select(e => (e.Name, e.Shape, e.ScalarType)).ToList();
        WeightsOnlyModule BuildWeightsOnly()
        {
            var root = WeightsOnlyModule.Build(plain);
            try
            {
                foreach (var (name, entry) in compressed.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    root.Insert(name, LayerConfigJson.Create(kinds, entry.Kind, entry.ConfigVersion, entry.Config, name));
                return root;
            }
            catch
            {
                root.Dispose();
                throw;
            }
        }
        long weightsOnlyBytes;
        using (MetaDevice.Scope())
        using (var probe = BuildWeightsOnly())
            weightsOnlyBytes = ModuleTensors.CheckShapes(probe, reader, strict: true);
        var weightsOnly = new ModelDeclaration(reader.Format, fileTensorBytes, weightsOnlyBytes, Executable: false);
        if (!materialize) return (null, weightsOnly);
        var rootModule = BuildWeightsOnly();
        try
        {
            LoadTensors(rootModule, reader, strict: true);
            return (new WeightsOnlyModel(rootModule, kinds, manifest?.Steps), weightsOnly);
        }
        catch
        {
            rootModule.Dispose();
            throw;
        }
    }

    /// <summary>The spec of a foreign checkpoint (no <c>compress</c> metadata) inferred from its tensors, or null when
    /// it is not a transformer family <see cref="ShapeInference"/> knows (or is not foreign).</summary>
    internal static ArchitectureSpec? ForeignSpec(string path, ForeignModelOptions? foreign)
    {
        var head = new byte[64];
        long length;
        using (var fs = InputFiles.OpenRead(path))
        {
            length = fs.Length;
            Array.Resize(ref head, fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false));
        }
        if (new OnnxFormat().Sniff(head, length)) return null;   // a graph carries its own architecture
        using var reader = CheckpointFormats.Open(path);
        if (reader is OnnxCheckpointReader || reader.Metadata.ContainsKey(CompressionManifest.MetadataKey) || reader.Metadata.ContainsKey(ArchitectureSpec.MetadataKey))
            return null;
        string? family = foreign?.Architecture ?? ArchitectureDetector.Detect(reader.Tensors.Select(t => t.Name).ToList(), reader.Metadata)?.Name;
        if (family is null) return null;
        return ShapeInference.Infer(family.ToLowerInvariant(), reader.Tensors, foreign?.Heads, path);
    }

    /// <summary>Opens a checkpoint in its ecosystem's layout (names mapped by the architecture, tensors converted,
    /// redundant ones skipped) as a fresh model of <paramref name="spec"/>: its declared tensors are checked against the
    /// file's on the meta device first, then (with <paramref name="materialize"/>) the model is built and loaded.</summary>
    private static (EngineModel? Model, ModelDeclaration Declaration) OpenForeign(string weights, LayerKindSet kinds, ArchitectureSpec spec,
        string sizesFrom, bool materialize)
    {
        var a = ArchitectureRegistry.Get(spec.Name);
        using var reader = new RenamedCheckpointReader(CheckpointFormats.Open(weights), a.ToModuleName);
        long fileTensorBytes = reader.Tensors.Aggregate(0L, (sum, t) => sum > long.MaxValue - t.ByteCount ? long.MaxValue : sum + t.ByteCount);
        T WithSizes<T>(Func<T> f)
        {
            try { return f(); }
            catch (CompressException e) when (e.Kind == ErrorKind.InvalidInput && !e.Message.Contains(sizesFrom, StringComparison.Ordinal))
            {
                throw new CompressException(ErrorKind.InvalidInput, e.Message + sizesFrom, e);
            }
        }
        long declared = WithSizes(() =>
        {
            using (MetaDevice.Scope())
            using (var probe = ArchitectureRegistry.CreateModel(spec, kinds))
                return ModuleTensors.CheckShapes(probe.Module, reader, strict: true, layoutConverted: true, a.IsRedundantEcosystemTensor);
        });
        var declaration = new ModelDeclaration(reader.Format, fileTensorBytes, declared, Executable: true);
        if (!materialize) return (null, declaration);
        var model = ArchitectureRegistry.CreateModel(spec, kinds);
        try
        {
            WithSizes(() => { LoadTensors(model.Module, reader, strict: true, a.FromEcosystem, a.IsRedundantEcosystemTensor); return 0; });
            return (model, declaration);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Saves <paramref name="model"/> (its compressed representation as is) to <paramref name="path"/>,
    /// atomically, with its architecture spec and its compression manifest (each compressed layer's config written by
    /// its kind in <see cref="EngineModel.Kinds"/>) in the metadata.</summary>
    /// <exception cref="CompressException">A compressed layer of a kind the model's kinds do not know.</exception>
    public static void Save(EngineModel model, string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var metadata = Metadata(model, extraMetadata);
        using var scope = NewDisposeScope();
        var tensors = model.NamedTensors().Select(t => (t.Name, t.Tensor.detach())).ToList();
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>The safetensors metadata <see cref="Save"/> writes for <paramref name="model"/> (which may live on the
    /// meta device: only its structure, spec, steps and compressed layers' configs are read).</summary>
    public static Dictionary<string, string> Metadata(EngineModel model, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (extraMetadata is not null) foreach (var (k, v) in extraMetadata) metadata[k] = v;
        if (model.Spec is not null) metadata[ArchitectureSpec.MetadataKey] = model.Spec.ToJson();
        metadata[CompressionManifest.MetadataKey] = CompressionManifest.Of(model).ToJson();
        return metadata;
    }

    /// <summary>Copies every parameter and buffer of <paramref name="module"/> from the file, by name. With
    /// <paramref name="strict"/>, a tensor the file lacks or a tensor the module lacks is an error (see
    /// <see cref="ModuleTensors.Load"/>).</summary>
    public static void LoadTensors(nn.Module module, ICheckpointReader reader, bool strict,
        Func<string, Tensor, Tensor>? convert = null, Func<string, bool>? redundant = null) =>
        ModuleTensors.Load(module, reader, strict, convert, redundant);
}

using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.IO;
using Compressor.Engine.Kinds;
using Compressor.Engine.Memory;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Streaming;

/// <summary>A decoder checkpoint (<see cref="IDecoderStack"/>: the built-in GPT-2 and Llama family) opened for a run
/// that holds one transformer block at a time. Opening reads headers only: the model is declared on the meta device
/// and every tensor the file holds is checked against it — names, shapes in the model's layout (after a foreign
/// layout's conversion, applied to a meta tensor of the file's shape) and floating-point types — so a bad checkpoint
/// fails before anything is computed or written. Then <see cref="LoadShell"/> materialises what lies outside the blocks
/// (embeddings, final normalisation, output head) and <see cref="LoadBlock"/> one block, each tensor read from its
/// shard by offset and converted to float32 as it is copied in (bfloat16 and float16 checkpoints never exist in
/// memory as a whole). The blocks are built from a one-block model of the same config, so a block is the very module
/// class the whole model uses and computes the same function.</summary>
public sealed class StreamedCheckpoint : IDisposable
{
    private readonly ICheckpointReader _reader;
    private readonly IArchitecture _architecture;
    private readonly bool _foreignLayout;
    private readonly Dictionary<string, CheckpointEntry> _entries;
    private int _live;
    private IReadOnlyDictionary<string, CompressedLayerEntry> _layers = new Dictionary<string, CompressedLayerEntry>();
    private IReadOnlyList<AppliedStep> _steps = [];

    private StreamedCheckpoint(string path, ArchitectureSpec spec, ICheckpointReader reader, IArchitecture architecture, bool foreignLayout, LayerKindSet kinds)
    {
        Path = path;
        Spec = spec;
        _reader = reader;
        _architecture = architecture;
        _foreignLayout = foreignLayout;
        Kinds = kinds;
        _entries = reader.Tensors.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>The checkpoint or model folder.</summary>
    public string Path { get; }

    /// <summary>Whether this is a compressed checkpoint (<see cref="OpenCompressed"/>): its blocks and shell hold the
    /// compressed layers its manifest declares.</summary>
    public bool IsCompressed => _layers.Count > 0;

    /// <summary>The architecture and its complete config.</summary>
    public ArchitectureSpec Spec { get; }

    /// <summary>The compressed layer kinds of the run.</summary>
    public LayerKindSet Kinds { get; }

    /// <summary>The file format (e.g. <c>sharded-safetensors</c>).</summary>
    public string Format => _reader.Format;

    /// <summary>The blocks' module names, in order.</summary>
    public IReadOnlyList<string> BlockNames { get; private set; } = [];

    /// <summary>The transformer layout of the whole model (null when the architecture gives none).</summary>
    public Sdk.Models.TransformerLayout? Layout { get; private set; }

    /// <summary>Every module name of the whole model, in module order.</summary>
    public IReadOnlyList<string> ModuleOrder { get; private set; } = [];

    /// <summary>Float32 bytes of each block's tensors, in order.</summary>
    public IReadOnlyList<long> BlockBytes { get; private set; } = [];

    /// <summary>Float32 bytes of the tensors outside the blocks (embeddings, norms, output head).</summary>
    public long ShellBytes { get; private set; }

    /// <summary>Float32 bytes of the whole model (what loading it whole would allocate).</summary>
    public long ModelBytes => ShellBytes + BlockBytes.Sum();

    /// <summary>The hidden width D of the blocks' inputs and outputs.</summary>
    public long HiddenSize { get; private set; }

    /// <summary>The model's parameter count.</summary>
    public long ParameterCount { get; private set; }

    /// <summary>Blocks materialised and not yet disposed now (<see cref="LoadBlock"/>).</summary>
    public int LiveBlocks => _live;

    /// <summary>The most blocks that were materialised at once.</summary>
    public int PeakLiveBlocks { get; private set; }

    /// <summary>Whether <paramref name="path"/> can be streamed: a model folder or checkpoint file of a decoder
    /// architecture that holds float weights (no compressed layers, not ONNX). Reads headers only.</summary>
    public static bool IsStreamable(string path, ForeignModelOptions? foreign)
    {
        try
        {
            var (spec, _, _) = Resolve(path, foreign);
            return spec is not null && IsDecoder(spec);
        }
        catch (CompressException)
        {
            return false;
        }
    }

    /// <summary>Opens <paramref name="path"/> (a model folder, a sharded index or a checkpoint file) for streaming
    /// with <paramref name="openReader"/> (default: by content) and checks it against the declared model.</summary>
    /// <exception cref="CompressException">Kind InvalidInput: not a decoder checkpoint with float weights, a missing
    /// shard, a tensor missing, extra, of another shape or of a non-float type — one line naming the file.</exception>
    public static StreamedCheckpoint Open(string path, LayerKindSet kinds, ForeignModelOptions? foreign = null, Func<string, ICheckpointReader>? openReader = null)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        var (spec, weights, foreignLayout) = Resolve(path, foreign);
        if (spec is null || !IsDecoder(spec))
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: streaming needs a decoder checkpoint (gpt or llama family) with float weights");
        var architecture = ArchitectureRegistry.Get(spec.Name);
        var inner = (openReader ?? CheckpointFormats.Open)(weights);
        ICheckpointReader reader = foreignLayout ? new RenamedCheckpointReader(inner, architecture.ToModuleName) : inner;
        return Checked(new StreamedCheckpoint(path, spec, reader, architecture, foreignLayout, kinds));
    }

    /// <summary>Opens a compressed checkpoint of a decoder (what a streamed run wrote, <c>compressed.safetensors</c>) for
    /// reading one block at a time: the same checks as <see cref="Open"/> against the model its manifest declares (the
    /// architecture with every compressed layer rebuilt from its kind and config); <see cref="LoadShell"/> and
    /// <see cref="LoadBlock"/> then hold those compressed layers with their codes and scales as stored.</summary>
    /// <exception cref="CompressException">Kind InvalidInput: not a compressed decoder checkpoint, or its tensors disagree with its manifest.</exception>
    public static StreamedCheckpoint OpenCompressed(string path, LayerKindSet kinds)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        var reader = CheckpointFormats.Open(path);
        try
        {
            if (!reader.Metadata.TryGetValue(CompressionManifest.MetadataKey, out var json))
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: not a compressed checkpoint (no {CompressionManifest.MetadataKey} metadata)");
            var manifest = CompressionManifest.FromJson(json);
            if (manifest.Architecture is null || !IsDecoder(manifest.Architecture))
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: streaming needs a decoder checkpoint (gpt or llama family)");
            var spec = ArchitectureRegistry.Spec(manifest.Architecture.Name, manifest.Architecture.Config);
            var checkpoint = new StreamedCheckpoint(path, spec, reader, ArchitectureRegistry.Get(spec.Name), false, kinds)
            {
                _layers = manifest.Layers, _steps = manifest.Steps,
            };
            reader = null!;
            return Checked(checkpoint);
        }
        finally
        {
            reader?.Dispose();
        }
    }

    /// <summary>The architecture spec, the weights file and whether it is in its ecosystem's layout.</summary>
    private static (ArchitectureSpec? Spec, string Weights, bool Foreign) Resolve(string path, ForeignModelOptions? foreign)
    {
        if (ModelFolder.IsFolder(path))
        {
            var folder = ModelFolder.Open(path, foreign?.Heads);
            return (folder.Spec, folder.WeightsPath, true);
        }
        InputFiles.RequireRegular(path);
        if (ModelIO.ForeignSpec(path, foreign) is { } inferred) return (inferred, path, true);
        using var reader = CheckpointFormats.Open(path);
        if (reader.Metadata.TryGetValue(CompressionManifest.MetadataKey, out var mj))
        {
            var manifest = CompressionManifest.FromJson(mj);
            if (manifest.Layers.Count > 0 || manifest.Architecture is null) return (null, path, false);
            return (ArchitectureRegistry.Spec(manifest.Architecture.Name, manifest.Architecture.Config), path, false);
        }
        if (reader.Metadata.TryGetValue(ArchitectureSpec.MetadataKey, out var aj))
        {
            var a = ArchitectureSpec.FromJson(aj);
            return (ArchitectureRegistry.Spec(a.Name, a.Config), path, false);
        }
        if (foreign?.Architecture is { } named) return (ArchitectureRegistry.Spec(named), path, true);
        return (null, path, false);
    }

    private static bool IsDecoder(ArchitectureSpec spec) =>
        string.Equals(spec.Name, "gpt", StringComparison.OrdinalIgnoreCase) || string.Equals(spec.Name, "llama", StringComparison.OrdinalIgnoreCase);

    /// <summary>The whole model on the meta device (no storage): names, shapes and types only. The caller disposes it.</summary>
    public EngineModel Declare()
    {
        if (IsCompressed) return StreamedOutput.Declare(Spec, Kinds, _layers, _steps);
        using (MetaDevice.Scope())
            return ArchitectureRegistry.CreateModel(Spec, Kinds);
    }

    /// <summary>Puts the compressed layers <paramref name="inside"/> selects in place in <paramref name="model"/>, built
    /// from their configs (tensors as initialised, filled afterwards).</summary>
    private void PlaceCompressed(Sdk.Models.CompressibleModel model, Func<string, bool> inside)
    {
        foreach (var (name, e) in _layers.Where(kv => inside(kv.Key)).OrderByDescending(kv => kv.Key.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal))
            model.ReplaceLayer(name, LayerConfigJson.Create(Kinds, e.Kind, e.ConfigVersion, e.Config, name));
    }

    /// <summary><paramref name="checkpoint"/> after <see cref="Check"/>; disposed when the check throws.</summary>
    private static StreamedCheckpoint Checked(StreamedCheckpoint checkpoint)
    {
        try
        {
            checkpoint.Check();
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    private void Check()
    {
        using var skeleton = Declare();
        var stack = (IDecoderStack)skeleton.Module;
        BlockNames = Enumerable.Range(0, stack.Layers).Select(stack.BlockName).ToList();
        Layout = skeleton.Transformer;
        ModuleOrder = skeleton.NamedModules().Select(m => m.Name).Where(n => n.Length > 0).ToList();
        var state = skeleton.Module.state_dict();
        // Names first (missing, extra), with the same messages as loading the model whole.
        ModuleTensors.CheckShapes(skeleton.Module, _reader, strict: true, layoutConverted: true, _foreignLayout ? _architecture.IsRedundantEcosystemTensor : null);
        var blockBytes = new long[BlockNames.Count];
        long shell = 0, parameters = 0;
        foreach (var (name, target) in state)
        {
            var entry = _entries[name];
            if (target.is_floating_point() && !entry.ScalarType.IsFloatingPoint())
                throw new CompressException(ErrorKind.InvalidInput, $"{_reader.Path}: tensor '{name}' is {entry.DType}, the model expects floating-point weights");
            long[] shape = entry.Shape;
            if (_foreignLayout)
            {
                using var probe = empty(entry.Shape, entry.ScalarType, device: new Device(DeviceType.META));
                using var converted = _architecture.FromEcosystem(name, probe);
                shape = converted.shape;
            }
            if (!shape.SequenceEqual(target.shape))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{_reader.Path}: tensor '{name}' has shape [{string.Join(", ", shape)}]{(_foreignLayout && !shape.SequenceEqual(entry.Shape) ? " (in this model's layout)" : "")}, the config declares [{string.Join(", ", target.shape)}]");
            long bytes = target.NumberOfElements * target.ElementSize;
            parameters += target.NumberOfElements;
            int block = BlockOf(name);
            if (block >= 0) blockBytes[block] += bytes;
            else shell += bytes;
        }
        BlockBytes = blockBytes;
        ShellBytes = shell;
        ParameterCount = parameters;
        HiddenSize = (long)(Spec.Config["hidden"] ?? Spec.Config["dim"])!;
    }

    /// <summary>The index of the block <paramref name="name"/> lies under, or −1.</summary>
    public int BlockOf(string name)
    {
        for (int i = 0; i < BlockNames.Count; i++)
            if (name.StartsWith(BlockNames[i] + ".", StringComparison.Ordinal)) return i;
        return -1;
    }

    /// <summary>A spec of the same config with one block (and, unless <paramref name="keepVocabulary"/>, a vocabulary of
    /// two tokens): the factory of single blocks and of the shell.</summary>
    private ArchitectureSpec OneBlock(bool keepVocabulary)
    {
        var config = (JObject)Spec.Config.DeepClone();
        config["layers"] = 1;
        if (!keepVocabulary) config["vocabSize"] = 2;
        return new ArchitectureSpec(Spec.Name, config);
    }

    /// <summary>Materialises everything outside the blocks as a model of the same config whose single block is an empty
    /// placeholder: the token (and position) embeddings, the final normalisation and the output head, loaded from the
    /// file in float32. Its layer names are those of the whole model. The caller disposes it.</summary>
    public EngineModel LoadShell()
    {
        var shell = ArchitectureRegistry.CreateModel(OneBlock(keepVocabulary: true), Kinds);
        try
        {
            var stack = (IDecoderStack)shell.Module;
            string block = stack.BlockName(0);
            int dot = block.LastIndexOf('.');
            var parent = (Sdk.Models.LayerContainer)shell.GetLayer(block[..dot]);
            var factoryBlock = parent.GetChild(block[(dot + 1)..]);
            parent.ReplaceChild(block[(dot + 1)..], new BlockPlaceholder());
            factoryBlock.Dispose();
            PlaceCompressed(shell, name => BlockOf(name) < 0);
            Fill(shell.Module, "");
            return shell;
        }
        catch
        {
            shell.Dispose();
            throw;
        }
    }

    /// <summary>Materialises block <paramref name="index"/> as a module of its own (its tensor names relative to
    /// <see cref="BlockNames"/>[index]), with <paramref name="load"/> its tensors read from the file in float32, else
    /// as initialised (to be filled from elsewhere). Counts towards <see cref="LiveBlocks"/> until disposed through
    /// the returned unit.</summary>
    public UnitModel LoadBlock(int index, bool load = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, BlockNames.Count);
        nn.Module block;
        using (var one = ArchitectureRegistry.CreateModel(OneBlock(keepVocabulary: false), Kinds))
        {
            string name = ((IDecoderStack)one.Module).BlockName(0);
            int dot = name.LastIndexOf('.');
            var parent = (Sdk.Models.LayerContainer)one.GetLayer(name[..dot]);
            block = parent.GetChild(name[(dot + 1)..]);
            parent.ReplaceChild(name[(dot + 1)..], new BlockPlaceholder());   // so that disposing the factory leaves the block
        }
        UnitModel unit;
        try
        {
            _live++;
            PeakLiveBlocks = Math.Max(PeakLiveBlocks, _live);
            unit = UnitModel.ForBlock(Spec, Kinds, BlockNames[index], block, () => _live--,
                Layout is { } l && l.Blocks.Count == BlockNames.Count ? l.Blocks[index] : null);
        }
        catch
        {
            _live--;
            block.Dispose();
            throw;
        }
        try
        {
            PlaceCompressed(unit, name => BlockOf(name) == index);
            if (load) Fill(unit.Block!, BlockNames[index] + ".");
            return unit;
        }
        catch
        {
            unit.Dispose();
            throw;
        }
    }

    /// <summary>Copies the file's tensors into <paramref name="module"/>'s (named <paramref name="prefix"/> + their
    /// relative names), converted to the module's layout and type, one tensor at a time.</summary>
    private void Fill(nn.Module module, string prefix)
    {
        using var noGrad = no_grad();
        foreach (var (local, target) in module.state_dict())
        {
            string name = prefix + local;
            using var scope = NewDisposeScope();
            var read = _reader.Read(name);
            var t = _foreignLayout ? _architecture.FromEcosystem(name, read) : read;
            if (!t.shape.SequenceEqual(target.shape))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{_reader.Path}: tensor '{name}' has shape [{string.Join(", ", t.shape)}], the model expects [{string.Join(", ", target.shape)}]");
            target.copy_(t);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();
}

using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Models;

/// <summary>A TorchSharp module tree whose weight-bearing layers are addressable by fully qualified name and
/// replaceable. The host builds it from a checkpoint (a built-in architecture, an imported ONNX graph, or a tree of
/// weights alone that data-free plugins can still rewrite) and hands it to plugins, which rewrite it in place.
/// Besides the layers, a model offers what it knows about itself: its named inputs and outputs, how to feed it a
/// data batch, its transformer structure, a frozen copy, and (for graphs) blocks that can be run on their own. A
/// plain instance wraps any module; the host's models override the members they support.</summary>
public class CompressibleModel : IDisposable
{
    /// <summary>The input name of a model that takes one tensor.</summary>
    public const string SingleInputName = "input";

    /// <summary>The output name of a model that returns one tensor.</summary>
    public const string SingleOutputName = "output";

    /// <summary>Wraps <paramref name="module"/>: executable when it maps one tensor to one tensor.</summary>
    /// <param name="module">The root module; its containers must be <see cref="LayerContainer"/>s for layers to be replaceable.</param>
    /// <param name="architectureName">The architecture's name for messages, or null when unknown.</param>
    public CompressibleModel(nn.Module module, string? architectureName = null)
    {
        Module = module;
        ArchitectureName = architectureName;
    }

    /// <summary>The root module.</summary>
    public nn.Module Module { get; }

    /// <summary>The architecture's name (e.g. <c>vit</c>, <c>onnx</c>), or null for a model of unknown architecture.</summary>
    public string? ArchitectureName { get; }

    /// <summary>Whether the model can run (false for a tree of weights of unknown architecture).</summary>
    public virtual bool IsExecutable => Module is nn.Module<Tensor, Tensor>;

    /// <summary>The model's input names, in order (<see cref="SingleInputName"/> for a one-tensor model).</summary>
    public virtual IReadOnlyList<string> InputNames => [SingleInputName];

    /// <summary>The model's output names, in order (<see cref="SingleOutputName"/> for a one-tensor model).</summary>
    public virtual IReadOnlyList<string> OutputNames => [SingleOutputName];

    /// <summary>Runs a model that takes one tensor; a model with several inputs gets it as its first input (see
    /// <see cref="Feed"/>) and returns its first output.</summary>
    /// <exception cref="CompressException">The model cannot run (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public virtual Tensor Forward(Tensor input)
    {
        if (!IsExecutable) throw NotExecutable();
        if (Module is nn.Module<Tensor, Tensor> m && InputNames.Count == 1) return m.forward(input);
        var outputs = Run(Feed(input));
        foreach (var (name, t) in outputs)
            if (name != OutputNames[0]) t.Dispose();
        return outputs[OutputNames[0]];
    }

    /// <summary>Runs the model on named inputs and returns its named outputs, new tensors owned by the caller.</summary>
    /// <exception cref="CompressException">The model cannot run, or an input is missing.</exception>
    public virtual IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        if (!IsExecutable) throw NotExecutable();
        if (!inputs.TryGetValue(SingleInputName, out var x))
            throw new CompressException(ErrorKind.InvalidInput, $"the model takes one input named '{SingleInputName}'");
        return new Dictionary<string, Tensor>(StringComparer.Ordinal) { [SingleOutputName] = ((nn.Module<Tensor, Tensor>)Module).forward(x) };
    }

    /// <summary>The named inputs for a batch of data inputs (<see cref="Data.DataBatch.Input"/>): the batch itself for a
    /// one-input model; for an encoder taking token ids, the ids with the side inputs it needs (for example
    /// <c>attention_mask</c> = ids ≠ 0 and <c>token_type_ids</c> = 0). The returned tensors belong to the caller's dispose
    /// scope; the batch is not disposed.</summary>
    public virtual IReadOnlyDictionary<string, Tensor> Feed(Tensor batch) =>
        new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputNames[0]] = batch.alias() };

    /// <summary>The transformer structure, when the model knows it (the built-in ViT/DeiT, BERT, GPT-2 and Llama
    /// family); null otherwise.</summary>
    public virtual TransformerLayout? Transformer => null;

    /// <summary>A copy of the model with the same layers and tensors, in evaluation mode with every parameter frozen
    /// (a distillation teacher, a reference). The caller disposes it.</summary>
    /// <exception cref="CompressException">This model cannot be copied (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public virtual CompressibleModel FrozenCopy() =>
        throw new CompressException(ErrorKind.InvalidInput, $"a model of architecture {ArchitectureName ?? "unknown"} cannot be copied");

    /// <summary>Cuts the model into blocks around <paramref name="layers"/> (see <see cref="ModelBlock"/>), tracing
    /// one run on <paramref name="example"/> inputs; null when the model cannot be cut (only graphs can).</summary>
    public virtual IReadOnlyList<ModelBlock>? FindBlocks(IReadOnlyCollection<string> layers, IReadOnlyDictionary<string, Tensor> example) => null;

    /// <summary>Computes the named values <paramref name="wanted"/> (outputs or any intermediate value) from the values
    /// <paramref name="given"/> (inputs or any intermediate values), running only what lies between them, with autograd.
    /// <paramref name="observe"/> sees each value as it is computed (valid only during the call).</summary>
    /// <exception cref="CompressException">The model has no named values (only graphs do), or a wanted value needs a
    /// value that is not given.</exception>
    public virtual IReadOnlyDictionary<string, Tensor> RunValues(IReadOnlyDictionary<string, Tensor> given, IReadOnlyCollection<string> wanted,
        Action<string, Tensor>? observe = null) =>
        throw new CompressException(ErrorKind.InvalidInput, $"a model of architecture {ArchitectureName ?? "unknown"} has no named values to run");

    /// <summary>SmoothQuant's difficulty migration without an extra node: divides the activation that
    /// <paramref name="layers"/> (all reading the same value, and its only readers) take as input by
    /// <paramref name="divisor"/> [channels] along its last axis, by rescaling the operator that produces it — a layer
    /// normalisation's scale and shift, or the output rows (and bias) of a linear layer reached through operators that
    /// keep channels apart (reshapes, transposes, the attention product with the values). The caller then multiplies
    /// the layers' weight columns by <paramref name="divisor"/>, which leaves the model's function unchanged. Returns
    /// the name of the operator that absorbed the division, or null when none can (nothing changed). Folding the
    /// reciprocal undoes a fold.</summary>
    /// <param name="layers">The layers that read the activation (e.g. the q, k, v projections after a LayerNorm).</param>
    /// <param name="divisor">Positive factors, one per channel of the activation.</param>
    public virtual string? FoldInputScale(IReadOnlyList<string> layers, Tensor divisor) => null;

    /// <summary>Folds the normalisation that reads convolution <paramref name="layer"/>'s output (a BatchNormalization
    /// in inference mode, its only reader) into the convolution's weights and bias — its scale into the weight rows, its
    /// per-channel shift into the bias — and leaves the normalisation as the identity, so that the model computes the
    /// same function and the convolution writes the normalised values (what a static output grid needs, and what a
    /// following ReLU clips). Returns the name of the normalisation that was folded, or null when none can be (nothing
    /// changed).</summary>
    /// <param name="layer">A convolution layer.</param>
    public virtual string? FoldOutputNormalization(string layer) => null;

    /// <summary>Whether everything that reads <paramref name="layer"/>'s output goes through one ReLU first (directly,
    /// or through operators that pass the value unchanged, such as a normalisation a fold left as the identity), so
    /// that its negative values never matter: a quantized output can use a grid that starts at 0 and apply the ReLU
    /// itself (conv + ReLU fused). False when unknown (only graphs can tell).</summary>
    /// <param name="layer">A layer.</param>
    public virtual bool OutputIsRectified(string layer) => false;

    /// <summary>Every weight-bearing layer, in module order: linear, conv and embedding layers, and layers already
    /// compressed (whose own weight-bearing sub-layers, if any, are listed too).</summary>
    public IReadOnlyList<LayerInfo> Layers()
    {
        var list = new List<LayerInfo>();
        foreach (var (name, m) in NamedModules())
        {
            if (name.Length == 0) continue;
            switch (m)
            {
                case ICompressedLayer c:
                    list.Add(new LayerInfo(name, LayerType.Compressed, c.DenseWeightShape, m));
                    break;
                case TorchSharp.Modules.Linear l:
                    list.Add(new LayerInfo(name, LayerType.Linear, l.weight!.shape, m));
                    break;
                case TorchSharp.Modules.Conv2d c2:
                    list.Add(new LayerInfo(name, LayerType.Conv2d, c2.weight!.shape, m));
                    break;
                case TorchSharp.Modules.Embedding e:
                {
                    // Embedding.weight wraps the native parameter in a new Tensor on every call: dispose the wrapper.
                    using var weight = e.weight!;
                    list.Add(new LayerInfo(name, LayerType.Embedding, weight.shape, m));
                    break;
                }
            }
        }
        return list;
    }

    /// <summary>The layers of the given types that <paramref name="selector"/> selects.</summary>
    public IReadOnlyList<LayerInfo> Select(LayerType types, LayerSelector selector) =>
        Layers().Where(l => (l.Type & types) != 0 && selector.Matches(l.Name)).ToList();

    /// <summary>The module at <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such module.</exception>
    public nn.Module GetLayer(string name)
    {
        foreach (var (n, m) in NamedModules())
            if (n == name) return m;
        throw new KeyNotFoundException($"the model has no layer '{name}'");
    }

    /// <summary>Replaces the layer at <paramref name="name"/> by <paramref name="replacement"/>, in place. The old
    /// layer is disposed unless <paramref name="disposeOld"/> is false.</summary>
    /// <exception cref="InvalidOperationException">The layer's parent is not a <see cref="LayerContainer"/>.</exception>
    public void ReplaceLayer(string name, nn.Module replacement, bool disposeOld = true)
    {
        int dot = name.LastIndexOf('.');
        string parentName = dot < 0 ? "" : name[..dot], child = name[(dot + 1)..];
        var parent = parentName.Length == 0 ? Module : GetLayer(parentName);
        if (parent is not LayerContainer container)
            throw new InvalidOperationException($"layer '{name}' cannot be replaced: its parent {parent.GetType().Name} is not a {nameof(LayerContainer)}");
        var old = container.GetChild(child);
        container.ReplaceChild(child, replacement);
        if (disposeOld && !ReferenceEquals(old, replacement)) old.Dispose();
    }

    /// <summary>Every module with its fully qualified name, depth-first in registration order (as PyTorch's
    /// <c>named_modules</c>), the root first with the empty name.</summary>
    public IEnumerable<(string Name, nn.Module Module)> NamedModules() => Walk("", Module);

    private static IEnumerable<(string, nn.Module)> Walk(string prefix, nn.Module module)
    {
        yield return (prefix, module);
        foreach (var (name, child) in module.named_children())
            foreach (var x in Walk(prefix.Length == 0 ? name : prefix + "." + name, child))
                yield return x;
    }

    /// <summary>The compressed layers, with their names, in module order.</summary>
    public IReadOnlyList<(string Name, ICompressedLayer Layer)> CompressedLayers() =>
        NamedModules().Where(x => x.Name.Length > 0 && x.Module is ICompressedLayer).Select(x => (x.Name, (ICompressedLayer)x.Module)).ToList();

    /// <summary>The number of parameters (the stored tensors' elements, so a compressed layer counts what it stores).</summary>
    public long ParameterCount() => Module.parameters().Sum(p => p.numel());

    /// <summary>The model's named tensors (parameters and buffers), in module order: for a compressed model these
    /// are the compressed representation (packed codes, scales, factors).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> NamedTensors()
    {
        var state = Module.state_dict();
        var list = new List<(string, Tensor)>(state.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (prefix, m) in NamedModules())
        {
            var own = m.named_parameters(recurse: false).Select(p => p.name).Concat(m.named_buffers(recurse: false).Select(b => b.name));
            foreach (var local in own)
            {
                string name = prefix.Length == 0 ? local : prefix + "." + local;
                if (state.TryGetValue(name, out var t) && seen.Add(name)) list.Add((name, t));
            }
        }
        foreach (var (name, t) in state)
            if (seen.Add(name)) list.Add((name, t));
        return list;
    }

    /// <summary>Disposes the module tree.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the module tree (and whatever a derived model holds).</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing) Module.Dispose();
    }

    private CompressException NotExecutable() => new(ErrorKind.InvalidInput,
        "this model is weights-only (unknown architecture): it can be rewritten by data-free plugins but not run; pass --arch to load it as a built-in architecture");
}

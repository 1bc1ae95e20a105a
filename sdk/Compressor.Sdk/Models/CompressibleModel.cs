using Compressor.Sdk.Architectures;
using Compressor.Sdk.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Models;

/// <summary>A TorchSharp module tree whose weight-bearing layers are addressable by fully qualified name and
/// replaceable. Built from a built-in architecture (executable), or from a checkpoint of unknown architecture as a
/// weights-only tree that data-free plugins can still rewrite.</summary>
public sealed class CompressibleModel : IDisposable
{
    /// <summary>Wraps <paramref name="module"/>.</summary>
    /// <param name="module">The root module; its containers must be <see cref="LayerContainer"/>s for layers to be replaceable.</param>
    /// <param name="architecture">The architecture and its config, or null for a weights-only model.</param>
    /// <param name="steps">The plugin steps already applied (from a compressed checkpoint).</param>
    public CompressibleModel(nn.Module module, ArchitectureSpec? architecture, IEnumerable<AppliedStep>? steps = null)
    {
        Module = module;
        Architecture = architecture;
        Steps = (steps ?? []).ToList();
    }

    /// <summary>The root module.</summary>
    public nn.Module Module { get; }

    /// <summary>The architecture, or null when the model is weights-only.</summary>
    public ArchitectureSpec? Architecture { get; }

    /// <summary>Whether <see cref="Forward"/> can run (a built-in or imported architecture, not weights-only).</summary>
    public bool IsExecutable => Module is nn.Module<Tensor, Tensor> && Module is not WeightsOnlyModule;

    /// <summary>Plugin steps applied to this model so far, oldest first.</summary>
    public List<AppliedStep> Steps { get; }

    /// <summary>Runs a model that takes one tensor (for several named inputs use <see cref="Run"/>).</summary>
    /// <exception cref="CompressException">The model is weights-only, or takes several inputs.</exception>
    public Tensor Forward(Tensor input) => IsExecutable
        ? ((nn.Module<Tensor, Tensor>)Module).forward(input)
        : throw new CompressException(ErrorKind.InvalidInput,
            "this model is weights-only (unknown architecture): it can be rewritten by data-free plugins but not run; pass --arch to load it as a built-in architecture");

    /// <summary>The model's input names: those of an <see cref="INamedTensorModule"/>, else the single name
    /// <c>input</c>.</summary>
    public IReadOnlyList<string> InputNames => Module is INamedTensorModule g ? g.InputNames : [SingleInputName];

    /// <summary>The model's output names: those of an <see cref="INamedTensorModule"/>, else the single name
    /// <c>output</c>.</summary>
    public IReadOnlyList<string> OutputNames => Module is INamedTensorModule g ? g.OutputNames : [SingleOutputName];

    /// <summary>The input name of a model that takes one tensor and is not an <see cref="INamedTensorModule"/>.</summary>
    public const string SingleInputName = "input";

    /// <summary>The output name of a model that returns one tensor and is not an <see cref="INamedTensorModule"/>.</summary>
    public const string SingleOutputName = "output";

    /// <summary>Runs the model on named inputs and returns its named outputs (see <see cref="InputNames"/>,
    /// <see cref="OutputNames"/>): the general form of <see cref="Forward"/> for models with several inputs or
    /// outputs. A one-tensor model takes <c>input</c> and returns <c>output</c>.</summary>
    /// <exception cref="CompressException">The model is weights-only, or an input is missing.</exception>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        if (Module is INamedTensorModule g && IsExecutable) return g.Run(inputs);
        if (!inputs.TryGetValue(SingleInputName, out var x))
            throw new CompressException(ErrorKind.InvalidInput, $"the model takes one input named '{SingleInputName}'");
        return new Dictionary<string, Tensor>(StringComparer.Ordinal) { [SingleOutputName] = Forward(x) };
    }

    /// <summary>Every weight-bearing layer, in module order: linear, conv and embedding layers, and layers already
    /// compressed (whose own sub-layers, e.g. low-rank factors, are listed too).</summary>
    public IReadOnlyList<LayerInfo> Layers()
    {
        var list = new List<LayerInfo>();
        foreach (var (name, m) in NamedModules())
        {
            if (name.Length == 0) continue;
            switch (m)
            {
                case ICompressedLayer c:
                    list.Add(new LayerInfo(name, LayerKind.Compressed, c.DenseWeightShape, m));
                    break;
                case TorchSharp.Modules.Linear l:
                    list.Add(new LayerInfo(name, LayerKind.Linear, l.weight!.shape, m));
                    break;
                case TorchSharp.Modules.Conv2d c2:
                    list.Add(new LayerInfo(name, LayerKind.Conv2d, c2.weight!.shape, m));
                    break;
                case TorchSharp.Modules.Embedding e:
                {
                    // Embedding.weight wraps the native parameter in a new Tensor on every call: dispose the wrapper.
                    using var weight = e.weight!;
                    list.Add(new LayerInfo(name, LayerKind.Embedding, weight.shape, m));
                    break;
                }
            }
        }
        return list;
    }

    /// <summary>The layers of the given kinds that <paramref name="selector"/> selects.</summary>
    public IReadOnlyList<LayerInfo> Select(LayerKind kinds, LayerSelector selector) =>
        Layers().Where(l => (l.Kind & kinds) != 0 && selector.Matches(l.Name)).ToList();

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

    /// <summary>The number of parameters (and buffers) by dense-equivalent count: a compressed layer counts as the
    /// weights it stands for.</summary>
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

    /// <inheritdoc/>
    public void Dispose() => Module.Dispose();
}

using Compressor.Sdk.Models;
using Compressor.Engine.Onnx.Export;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>An ONNX graph imported into an executable, trainable TorchSharp module (built by
/// <see cref="OnnxImporter"/>). Constant weights of MatMul, Gemm and Conv nodes are replaceable
/// <c>nn.Linear</c>/<c>nn.Conv2d</c> layers and constant tables read by Gather are <c>nn.Embedding</c> layers, named
/// as <see cref="OnnxLayerNaming"/> describes and registered in <see cref="LayerContainer"/>s so that
/// <see cref="CompressibleModel.ReplaceLayer"/> works; their parameters receive gradients. Every other initializer
/// is a buffer; every other node runs as the corresponding torch operations, at every call, so shape-computing
/// subgraphs follow dynamic batch and sequence sizes.
/// <para>Inputs and outputs are named (<see cref="Run"/>); a graph with one input also runs through
/// <see cref="forward"/>, which returns its first output.</para>
/// <para>It exports as its own graph (<see cref="IOnnxExportableModel"/>): the original nodes in their order, with
/// unchanged layers re-emitted as their original nodes and replaced (compressed) layers lowered by the exporter (see
/// <see cref="OnnxGraphReemission"/>).</para></summary>
public sealed class OnnxModule : LayerContainer, IOnnxExportableModel
{
    private readonly List<OnnxNode> _plan;
    private readonly Dictionary<string, Tensor> _constants;
    private readonly Dictionary<string, string> _bufferOfInitializer;
    private readonly Dictionary<string, string> _layerOfInitializer;
    private readonly byte[] _graphWithoutWeights;
    private readonly IReadOnlyList<OnnxLayerUse> _layerUses;
    private IReadOnlyList<OnnxValueSpec>? _onnxInputs, _onnxOutputs;

    internal OnnxModule(List<OnnxNode> plan, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs,
        Dictionary<string, Tensor> constants, Dictionary<string, string> bufferOfInitializer,
        Dictionary<string, string> layerOfInitializer, byte[] graphWithoutWeights, IReadOnlyList<OnnxLayerUse> layerUses, int opset)
        : base(nameof(OnnxModule))
    {
        _layerUses = layerUses;
        SourceOpset = opset;
        _plan = plan;
        InputNames = inputs;
        OutputNames = outputs;
        _constants = constants;
        _bufferOfInitializer = bufferOfInitializer;
        _layerOfInitializer = layerOfInitializer;
        _graphWithoutWeights = graphWithoutWeights;
    }

    /// <summary>The graph input names (initializers excluded), in the graph's order.</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The graph output names, in the graph's order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>For every initializer that became (part of) a replaceable layer, the layer's dotted name.</summary>
    public IReadOnlyDictionary<string, string> LayerOfInitializer => _layerOfInitializer;

    /// <summary>For every other initializer, the dotted name of the buffer that holds it.</summary>
    public IReadOnlyDictionary<string, string> BufferOfInitializer => _bufferOfInitializer;

    /// <summary>The <c>ai.onnx</c> opset the imported graph was written for.</summary>
    public int? SourceOpset { get; }

    /// <summary>The original graph inputs (names, element types, shapes with their symbolic dimensions; see
    /// <see cref="OnnxGraphReemission.Inputs"/> for the example sizes and value ranges verification feeds).</summary>
    public IReadOnlyList<OnnxValueSpec> OnnxInputs => _onnxInputs ??= OnnxGraphReemission.Inputs(this);

    /// <summary>The original graph outputs.</summary>
    public IReadOnlyList<OnnxValueSpec> OnnxOutputs => _onnxOutputs ??= OnnxGraphReemission.Outputs(this);

    /// <summary>How the graph's nodes call the replaceable layers, in node order.</summary>
    internal IReadOnlyList<OnnxLayerUse> LayerUses => _layerUses;

    /// <summary>Re-emits the imported graph (see <see cref="OnnxGraphReemission.Emit"/>).</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext context, IReadOnlyList<string> inputs) =>
        OnnxGraphReemission.Emit(this, context, inputs);

    /// <summary>The number of steps the graph runs (nodes, with MatMul+Add pairs fused into linear layers and
    /// Constant nodes evaluated once).</summary>
    public int StepCount => _plan.Count;

    /// <summary>The imported model with every initializer's data removed (names, shapes and types kept): the graph
    /// structure that, with this module's tensors, rebuilds the module (see <see cref="OnnxArchitecture"/>).
    /// A fresh copy at each call.</summary>
    public ModelProto GraphWithoutWeights() => ModelProto.Parser.ParseFrom(_graphWithoutWeights);

    /// <summary>The serialized form of <see cref="GraphWithoutWeights"/>.</summary>
    public ReadOnlyMemory<byte> GraphWithoutWeightsBytes => _graphWithoutWeights;

    /// <summary>Runs a graph with exactly one input and returns its first output.</summary>
    /// <exception cref="CompressException">The graph has several inputs: use <see cref="Run"/>.</exception>
    public override Tensor forward(Tensor input)
    {
        if (InputNames.Count != 1)
            throw new CompressException(ErrorKind.InvalidInput,
                $"this ONNX model has {InputNames.Count} inputs ({string.Join(", ", InputNames)}): run it with named inputs");
        var outputs = Run(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputNames[0]] = input });
        foreach (var (name, t) in outputs)
            if (name != OutputNames[0]) t.Dispose();
        return outputs[OutputNames[0]];
    }

    /// <summary>Computes every output from the named inputs. The inputs are not disposed; the outputs are new tensors
    /// owned by the caller (registered in the caller's dispose scope, if any).</summary>
    /// <exception cref="CompressException">An input is missing or has a shape or type the graph cannot take.</exception>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        foreach (var name in InputNames)
            if (!inputs.ContainsKey(name))
                throw new CompressException(ErrorKind.InvalidInput, $"missing model input '{name}' (inputs: {string.Join(", ", InputNames)})");
        return Execute(InputNames.ToDictionary(n => n, n => inputs[n], StringComparer.Ordinal), _plan.Select(n => (n, (IEnumerable<string>)n.DeadAfter)), OutputNames, null,
            name => new CompressException(ErrorKind.InvalidInput, $"ONNX graph output '{name}' is never computed"));
    }

    /// <summary>Whether <paramref name="name"/> is a value the module stores (a constant or an initializer buffer)
    /// rather than one computed from the inputs.</summary>
    internal bool IsStored(string name) => _constants.ContainsKey(name) || _bufferOfInitializer.ContainsKey(name);

    /// <summary>The execution plan, in order (for graph analysis such as <see cref="OnnxBlocks"/>).</summary>
    internal IReadOnlyList<OnnxNode> Plan => _plan;

    /// <summary>Computes the values named in <paramref name="wanted"/> (graph outputs or any intermediate value) from
    /// the values in <paramref name="given"/> (graph inputs or any intermediate values), running only the nodes that
    /// lie between them, with autograd as in <see cref="Run"/>. A wanted value that is given is returned as an alias.
    /// This runs a piece of the graph (for example one block of a network from its captured input) or captures
    /// intermediate values (given = the graph inputs).</summary>
    /// <param name="given">Values known before the run, by name.</param>
    /// <param name="wanted">Values to compute.</param>
    /// <param name="observe">Called with each value a node produces, right after the node runs (the tensor is only
    /// valid during the call).</param>
    /// <exception cref="CompressException">A wanted value needs a graph input or value that is not given.</exception>
    public IReadOnlyDictionary<string, Tensor> RunValues(IReadOnlyDictionary<string, Tensor> given, IReadOnlyCollection<string> wanted,
        Action<string, Tensor>? observe = null)
    {
        bool Known(string name) => given.ContainsKey(name) || IsStored(name);
        // The nodes between: walk the plan backwards from the wanted values, stopping at known values.
        var needed = new HashSet<string>(wanted.Where(n => !Known(n)), StringComparer.Ordinal);
        var slice = new List<OnnxNode>();
        for (int p = _plan.Count - 1; p >= 0 && needed.Count > 0; p--)
        {
            var node = _plan[p];
            if (!node.Outputs.Any(needed.Contains)) continue;
            slice.Add(node);
            foreach (var o in node.Outputs) needed.Remove(o);
            foreach (var i in node.Inputs)
                if (i.Length > 0 && !Known(i)) needed.Add(i);
        }
        if (needed.Count > 0)
            throw new CompressException(ErrorKind.InvalidInput,
                $"cannot compute {string.Join(", ", wanted.Take(3))} from the given values: '{needed.First()}' is neither given nor computed by the graph");
        slice.Reverse();
        // Each value is freed after its last reader in the slice (or at once when nothing reads it), unless wanted.
        var keep = new HashSet<string>(wanted, StringComparer.Ordinal);
        var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int p = 0; p < slice.Count; p++)
            foreach (var name in slice[p].Inputs)
                if (name.Length > 0) lastUse[name] = p;
        var steps = slice.Select((node, p) => (node, node.Inputs.Where(n => n.Length > 0 && lastUse[n] == p)
            .Concat(node.Outputs.Where(n => n.Length > 0 && !lastUse.ContainsKey(n))).Where(n => !keep.Contains(n))));
        return Execute(given, steps, wanted, observe, name => new CompressException(ErrorKind.InvalidInput, $"value '{name}' is never computed"));
    }

    /// <summary>Runs <paramref name="steps"/> (plan nodes, each with the values to free after it) with the given values,
    /// the buffers and the constants in scope, and returns <paramref name="wanted"/> (new tensors, or aliases of given or
    /// stored ones); every other value computed is freed.</summary>
    private Dictionary<string, Tensor> Execute(IReadOnlyDictionary<string, Tensor> given, IEnumerable<(OnnxNode Node, IEnumerable<string> Dead)> steps,
        IEnumerable<string> wanted, Action<string, Tensor>? observe, Func<string, CompressException> missing)
    {
        var device = given.Count > 0 ? given.Values.First().device : CPU;
        var context = new OnnxRunContext(this, device);
        var env = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var owned = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, t) in given) env[name] = t;
            var buffers = named_buffers().ToDictionary(b => b.name, b => b.buffer, StringComparer.Ordinal);
            foreach (var (init, path) in _bufferOfInitializer) env[init] = buffers[path];
            foreach (var (name, value) in _constants)
            {
                if (value.device == device) env[name] = value;
                else
                {
                    env[name] = value.to(device);
                    owned.Add(name);
                }
            }
            foreach (var (node, dead) in steps) Step(node, env, owned, context, dead, observe);
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var name in wanted)
            {
                if (result.ContainsKey(name)) continue;
                if (!env.TryGetValue(name, out var t)) throw missing(name);
                if (owned.Remove(name)) result[name] = t;
                else
                {
                    using var scope = NewDisposeScope();
                    result[name] = scope.MoveToOuter(t.alias());
                }
            }
            return result;
        }
        finally
        {
            foreach (var name in owned) env[name].Dispose();
        }
    }

    private static void Step(OnnxNode node, Dictionary<string, Tensor> env, HashSet<string> owned, OnnxRunContext context,
        IEnumerable<string> dead, Action<string, Tensor>? observe)
    {
        var ins = new Tensor?[node.Inputs.Count];
        for (int i = 0; i < ins.Length; i++)
        {
            string name = node.Inputs[i];
            if (name.Length == 0) continue;
            ins[i] = env.TryGetValue(name, out var t) ? t : throw node.Error($"input '{name}' is not available");
        }
        Tensor[] outs;
        using (var scope = NewDisposeScope())
        {
            // libtorch refuses what the graph asks (mismatched MatMul shapes, a Reshape that does not fit) with its own
            // exception: that is the model's fault, said in one line naming the node.
            try { outs = node.Kernel(node, ins, context); }
            catch (System.Runtime.InteropServices.ExternalException e)
            {
                throw node.Error($"cannot run on inputs of shapes {string.Join(", ", ins.Select(x => x is null ? "-" : "[" + string.Join(", ", x.shape) + "]"))}: {e.Message.Split('\n')[0].Trim()}");
            }
            for (int k = 0; k < outs.Length; k++)
            {
                if (Array.Exists(ins, x => ReferenceEquals(x, outs[k]))) outs[k] = outs[k].alias();
                scope.MoveToOuter(outs[k]);
            }
        }
        for (int k = 0; k < outs.Length; k++)
        {
            if (k < node.Outputs.Count && node.Outputs[k].Length > 0)
            {
                string name = node.Outputs[k];
                if (owned.Contains(name)) env[name].Dispose();
                env[name] = outs[k];
                owned.Add(name);
                observe?.Invoke(name, outs[k]);
            }
            else outs[k].Dispose();
        }
        foreach (var name in dead)
            if (owned.Remove(name))
            {
                env[name].Dispose();
                env.Remove(name);
            }
    }

    /// <summary>The tensor-to-tensor module at the dotted <paramref name="path"/>.</summary>
    internal nn.Module<Tensor, Tensor> ResolveLayer(string path)
    {
        nn.Module current = this;
        foreach (var part in path.Split('.'))
            current = current is LayerContainer c ? c.GetChild(part)
                : throw new InvalidOperationException($"layer path '{path}' passes through a {current.GetType().Name}");
        return current as nn.Module<Tensor, Tensor>
               ?? throw new InvalidOperationException($"the layer at '{path}' ({current.GetType().Name}) does not take one tensor");
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var t in _constants.Values) t.Dispose();
            _constants.Clear();
        }
        base.Dispose(disposing);
    }
}

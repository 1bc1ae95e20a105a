using Compressor.Engine.Kinds;
using Compressor.Sdk.Models;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Imports ONNX models (default domain, opsets 7–21 for the operators listed by
/// <see cref="SupportedOperators"/>) into executable, trainable <see cref="OnnxModule"/>s. An operator outside that
/// list, a node reading an undefined value, or a malformed file fails the import with one line naming the problem
/// (and the node).</summary>
public static class OnnxImporter
{
    /// <summary>The ONNX operators the importer runs.</summary>
    public static IEnumerable<string> SupportedOperators => OnnxKernels.Supported;

    /// <summary>Reads and parses the ONNX file at <paramref name="path"/>.</summary>
    /// <exception cref="CompressException">Missing, unreadable or not an ONNX model, in one line.</exception>
    public static ModelProto ReadModel(string path)
    {
        // Protobuf messages are at most 2 GiB; larger models keep their tensors in external data files.
        return ParseModel(IO.InputFiles.ReadAllBytes(path, int.MaxValue), path);
    }

    /// <summary>Parses an ONNX model from <paramref name="bytes"/>; <paramref name="what"/> names it in errors.</summary>
    /// <exception cref="CompressException">Not a protobuf ONNX model, in one line.</exception>
    public static ModelProto ParseModel(byte[] bytes, string what)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (Exception e) when (e is InvalidProtocolBufferException or ArgumentException or InvalidOperationException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: not a valid ONNX file ({e.Message.Split('\n')[0].Trim()})");
        }
        if (model.Graph is null || (model.Graph.Node.Count == 0 && model.Graph.Output.Count == 0))
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: not an ONNX model (no graph)");
        return model;
    }

    /// <summary>Imports the ONNX file at <paramref name="path"/> as a model whose architecture spec
    /// (<see cref="OnnxArchitecture"/>) carries the graph, so that a checkpoint saved from it reloads alone.</summary>
    /// <param name="path">The ONNX file.</param>
    /// <param name="kinds">The compressed layer kinds of the run (those its layers may be replaced by).</param>
    /// <exception cref="CompressException">Unreadable file, unsupported operator, malformed graph, in one line.</exception>
    public static ImportedModel Load(string path, LayerKindSet kinds) => ToModel(ReadModel(path), Path.GetDirectoryName(Path.GetFullPath(path)), path, kinds);

    /// <summary>Wraps the import of <paramref name="model"/> as a model (see <see cref="Load"/>).</summary>
    /// <param name="model">The parsed model.</param>
    /// <param name="baseDirectory">The folder of external tensor data files, if any.</param>
    /// <param name="what">Names the model in errors (e.g. its path).</param>
    /// <param name="kinds">The compressed layer kinds of the run.</param>
    public static ImportedModel ToModel(ModelProto model, string? baseDirectory, string what, LayerKindSet kinds) =>
        new(Import(model, baseDirectory, what), kinds);

    /// <summary>Imports <paramref name="model"/> with its weights.</summary>
    /// <param name="model">The parsed model.</param>
    /// <param name="baseDirectory">The folder of external tensor data files, if any.</param>
    /// <param name="what">Names the model in errors (e.g. its path).</param>
    /// <exception cref="CompressException">Unsupported operator, malformed graph, in one line.</exception>
    public static OnnxModule Import(ModelProto model, string? baseDirectory = null, string what = "ONNX model") =>
        Build(model, withWeights: true, baseDirectory, what);

    /// <summary>A copy of <paramref name="model"/> whose initializers keep their names, shapes and types but no data.</summary>
    public static ModelProto WithoutWeights(ModelProto model)
    {
        var copy = model.Clone();
        foreach (var init in copy.Graph.Initializer)
        {
            init.RawData = ByteString.Empty;
            init.FloatData.Clear();
            init.DoubleData.Clear();
            init.Int32Data.Clear();
            init.Int64Data.Clear();
            init.Uint64Data.Clear();
            init.StringData.Clear();
            init.ExternalData.Clear();
            init.DataLocation = TensorProto.Types.DataLocation.Default;
        }
        return copy;
    }

    /// <summary>Builds the module; without weights, initializers become zero tensors of their declared shape (for
    /// rebuilding from a graph whose tensors are loaded afterwards from a checkpoint).</summary>
    internal static OnnxModule Build(ModelProto model, bool withWeights, string? baseDirectory, string what)
    {
        var g = model.Graph ?? throw new CompressException(ErrorKind.InvalidInput, $"{what}: not an ONNX model (no graph)");
        int opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => (int)o.Version).DefaultIfEmpty(1).Max();
        if (g.SparseInitializer.Count > 0) throw new CompressException(ErrorKind.InvalidInput, $"{what}: sparse initializers are not supported");

        var inits = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var init in g.Initializer)
        {
            if (!inits.TryAdd(init.Name, init)) throw new CompressException(ErrorKind.InvalidInput, $"{what}: initializer '{init.Name}' is defined twice");
            // Every declared shape is checked against the bytes present (or, without weights, for overflow) before
            // anything of its size is allocated: layers are built at their declared size.
            if (withWeights) OnnxTensorConversion.CheckPresent(init, $"{what}: initializer '{init.Name}'", baseDirectory);
            else OnnxTensorConversion.DeclaredBytes(init.Dims, OnnxTensorConversion.ScalarTypeOf(init, $"{what}: initializer '{init.Name}'"), $"{what}: initializer '{init.Name}'");
        }
        var inputs = g.Input.Select(i => i.Name).Where(n => !inits.ContainsKey(n)).ToList();
        var outputs = g.Output.Select(o => o.Name).ToList();
        foreach (var v in g.Input.Where(i => !inits.ContainsKey(i.Name)).Concat(g.Output))
        {
            if (v.Type is null) continue;
            if (v.Type.ValueCase != TypeProto.ValueOneofCase.TensorType)
                throw new CompressException(ErrorKind.InvalidInput, $"{what}: graph value '{v.Name}' is a {v.Type.ValueCase}, not a tensor; only tensor inputs and outputs are supported");
            int elem = v.Type.TensorType.ElemType;
            if (elem != 0 && OnnxTensorConversion.ScalarTypeOf(elem) is null)
                throw new CompressException(ErrorKind.InvalidInput, $"{what}: graph value '{v.Name}' has element type {OnnxTensorConversion.NameOf(elem)}, which TorchSharp does not support");
        }
        var graphOutputs = outputs.ToHashSet(StringComparer.Ordinal);
        var nodes = g.Node.ToList();
        string Label(int i) => $"'{(nodes[i].Name.Length > 0 ? nodes[i].Name : "#" + i)}' ({nodes[i].OpType})";

        // Every operator must be supported and every value defined before its use.
        var defined = new HashSet<string>(inputs.Concat(inits.Keys), StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (node.Domain is not ("" or "ai.onnx") || !OnnxKernels.TryGet(node.OpType, out _))
            {
                string op = node.Domain is "" or "ai.onnx" ? node.OpType : node.Domain + "." + node.OpType;
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{what}: unsupported ONNX operator '{op}' in node '{(node.Name.Length > 0 ? node.Name : "#" + i)}'");
            }
            foreach (var input in node.Input)
                if (input.Length > 0 && !defined.Contains(input))
                    throw new CompressException(ErrorKind.InvalidInput, $"{what}: ONNX node {Label(i)} reads '{input}', which no earlier node, input or initializer defines");
            foreach (var output in node.Output) if (output.Length > 0) defined.Add(output);
        }

        var consumers = new Dictionary<string, List<(int Node, int Slot)>>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
            for (int s = 0; s < nodes[i].Input.Count; s++)
            {
                string name = nodes[i].Input[s];
                if (name.Length == 0) continue;
                if (!consumers.TryGetValue(name, out var list)) consumers[name] = list = [];
                list.Add((i, s));
            }
        List<(int Node, int Slot)> Uses(string name) => consumers.TryGetValue(name, out var l) ? l : [];
        bool IsFloatInit(string name, int rank) => inits.TryGetValue(name, out var p) && !graphOutputs.Contains(name)
                                                   && p.DataType == (int)TensorProto.Types.DataType.Float && p.Dims.Count == rank;

        Tensor Value(string name)
        {
            var p = inits[name];
            return withWeights
                ? OnnxTensorConversion.ToTensor(p, $"{what}: initializer '{name}'", baseDirectory)
                : zeros(p.Dims.ToArray(), OnnxTensorConversion.ScalarTypeOf(p, name));
        }

        var names = new NameTree();
        var layers = new List<(string Path, nn.Module Layer)>();
        var layerOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var boundKernels = new Dictionary<int, (OnnxKernel Kernel, string[] Inputs, string[] Outputs)>();
        var fusedAway = new HashSet<int>();
        var layerUses = new List<OnnxLayerUse>();

        try
        {
            for (int i = 0; i < nodes.Count; i++)
            {
                var node = nodes[i];
                var attrs = new OnnxAttributes(node, Label(i));
                switch (node.OpType)
                {
                    case "MatMul" when node.Input.Count == 2 && IsFloatInit(node.Input[1], 2) && !layerOf.ContainsKey(node.Input[1])
                                       && Uses(node.Input[1]).All(u => nodes[u.Node].OpType == "MatMul" && u.Slot == 1):
                    {
                        string w = node.Input[1];
                        var users = Uses(w);
                        string? bias = null;
                        int addNode = -1;
                        string output = node.Output[0];
                        if (users.Count == 1 && !graphOutputs.Contains(output) && Uses(output) is [var use] && nodes[use.Node].OpType == "Add")
                        {
                            string other = nodes[use.Node].Input[1 - use.Slot];
                            if (IsFloatInit(other, 1) && inits[other].Dims[0] == inits[w].Dims[1] && Uses(other).Count == 1 && other != w)
                            {
                                bias = other;
                                addNode = use.Node;
                            }
                        }
                        string path = names.Claim(bias is not null && bias.EndsWith(".bias", StringComparison.Ordinal)
                            ? OnnxLayerNaming.LayerName(bias, ".bias") : OnnxLayerNaming.LayerName(w));
                        using (var wt = Value(w))
                        {
                            var weight = new Parameter(wt.t().contiguous());
                            Parameter? b = null;
                            if (bias is not null) using (var bt = Value(bias)) b = new Parameter(bt.clone());
                            layers.Add((path, nn.Linear(weight, b)));
                        }
                        layerOf[w] = path;
                        if (bias is not null)
                        {
                            layerOf[bias] = path;
                            fusedAway.Add(addNode);
                            boundKernels[i] = (LinearKernel(path), [node.Input[0]], nodes[addNode].Output.ToArray());
                            layerUses.Add(new OnnxLayerUse(i, path, node.Input[0], nodes[addNode].Output[0], addNode, null));
                        }
                        else
                            foreach (var (u, _) in users)
                            {
                                boundKernels[u] = (LinearKernel(path), [nodes[u].Input[0]], nodes[u].Output.ToArray());
                                layerUses.Add(new OnnxLayerUse(u, path, nodes[u].Input[0], nodes[u].Output[0], null, null));
                            }
                        break;
                    }
                    case "Gemm" when node.Input.Count >= 2 && IsFloatInit(node.Input[1], 2) && attrs.Int("transA", 0) == 0
                                     && Uses(node.Input[1]).Count == 1 && !layerOf.ContainsKey(node.Input[1]):
                    {
                        string w = node.Input[1];
                        bool transB = attrs.Int("transB", 0) != 0;
                        long outFeatures = transB ? inits[w].Dims[0] : inits[w].Dims[1];
                        string? c = node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2] : null;
                        if (c is not null && !(inits.TryGetValue(c, out var cp) && cp.DataType == (int)TensorProto.Types.DataType.Float
                                               && Uses(c).Count == 1 && !graphOutputs.Contains(c)
                                               && ((cp.Dims.Count == 1 && cp.Dims[0] == outFeatures) || (cp.Dims.Count == 2 && cp.Dims[0] == 1 && cp.Dims[1] == outFeatures))))
                            goto default;
                        string path = names.Claim(OnnxLayerNaming.LayerName(w));
                        using (var wt = Value(w))
                        {
                            using var oriented = transB ? wt.alias() : wt.t();
                            var weight = new Parameter(oriented.mul(attrs.Float("alpha", 1f)).contiguous());
                            Parameter? b = null;
                            if (c is not null)
                            {
                                using var ct = Value(c);
                                b = new Parameter(ct.reshape(outFeatures).mul(attrs.Float("beta", 1f)));
                                layerOf[c] = path;
                            }
                            layers.Add((path, nn.Linear(weight, b)));
                        }
                        layerOf[w] = path;
                        boundKernels[i] = (LinearKernel(path), [node.Input[0]], node.Output.ToArray());
                        layerUses.Add(new OnnxLayerUse(i, path, node.Input[0], node.Output[0], null, null));
                        break;
                    }
                    case "Conv" when node.Input.Count >= 2 && IsFloatInit(node.Input[1], 4) && Uses(node.Input[1]).Count == 1 && !layerOf.ContainsKey(node.Input[1]):
                    {
                        string w = node.Input[1];
                        string? b = node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2] : null;
                        var dims = inits[w].Dims.ToArray();
                        if (b is not null && !(IsFloatInit(b, 1) && Uses(b).Count == 1 && inits[b].Dims[0] == dims[0])) goto default;
                        long groups = attrs.Int("group", 1);
                        long[] kernel = attrs.Ints("kernel_shape") ?? dims[2..];
                        if (!kernel.SequenceEqual(dims[2..])) throw new CompressException(ErrorKind.InvalidInput, $"{what}: ONNX node {Label(i)}: kernel_shape differs from the weight's shape");
                        long[] strides = attrs.Ints("strides") ?? [1, 1], dilations = attrs.Ints("dilations") ?? [1, 1];
                        string autoPad = attrs.String("auto_pad", "NOTSET");
                        bool dynamicPads = autoPad is "SAME_UPPER" or "SAME_LOWER";
                        long[] pads = dynamicPads || autoPad == "VALID" ? new long[4] : attrs.Ints("pads") ?? new long[4];
                        if (pads.Length != 4) throw new CompressException(ErrorKind.InvalidInput, $"{what}: ONNX node {Label(i)}: pads must have 4 values");
                        // Symmetric padding stays in the layer; any excess on one side is padded explicitly before it.
                        long ph = Math.Min(pads[0], pads[2]), pw = Math.Min(pads[1], pads[3]);
                        long[] extra = [pads[0] - ph, pads[1] - pw, pads[2] - ph, pads[3] - pw];
                        string path = names.Claim(OnnxLayerNaming.LayerName(w));
                        if (groups < 1 || groups > dims[0] || dims[1] > long.MaxValue / groups)
                            throw new CompressException(ErrorKind.InvalidInput, $"{what}: ONNX node {Label(i)}: group {groups} does not fit the weight's shape");
                        var conv = nn.Conv2d(dims[1] * groups, dims[0], (dims[2], dims[3]), stride: (strides[0], strides[1]),
                            padding: (ph, pw), dilation: (dilations[0], dilations[1]), groups: groups, bias: b is not null);
                        using (var wt = Value(w)) conv.weight = new Parameter(wt.clone());
                        if (b is not null)
                        {
                            using var bt = Value(b);
                            conv.bias = new Parameter(bt.clone());
                            layerOf[b] = path;
                        }
                        layers.Add((path, conv));
                        layerOf[w] = path;
                        boundKernels[i] = (ConvKernel(path, dynamicPads ? null : extra, kernel, strides, dilations), [node.Input[0]], node.Output.ToArray());
                        layerUses.Add(new OnnxLayerUse(i, path, node.Input[0], node.Output[0], null, dynamicPads ? null : extra));
                        break;
                    }
                    case "Gather" when node.Input.Count == 2 && IsFloatInit(node.Input[0], 2) && !layerOf.ContainsKey(node.Input[0])
                                       && Uses(node.Input[0]).All(u => nodes[u.Node].OpType == "Gather" && u.Slot == 0
                                                                       && new OnnxAttributes(nodes[u.Node], Label(u.Node)).Int("axis", 0) == 0):
                    {
                        string table = node.Input[0];
                        string path = names.Claim(OnnxLayerNaming.LayerName(table));
                        var dims = inits[table].Dims;
                        // Assigned rather than Embedding_from_pretrained, whose forward keeps reading the tensor it was
                        // given even after the registered parameter is loaded from a checkpoint.
                        Embedding embedding;
                        using (var tt = Value(table)) embedding = Memory.DeclaredModules.Embedding(tt);
                        layers.Add((path, embedding));
                        layerOf[table] = path;
                        long rows = inits[table].Dims[0];
                        foreach (var (u, _) in Uses(table))
                        {
                            boundKernels[u] = (EmbeddingKernel(path, rows), [nodes[u].Input[1]], nodes[u].Output.ToArray());
                            layerUses.Add(new OnnxLayerUse(u, path, nodes[u].Input[1], nodes[u].Output[0], null, null));
                        }
                        break;
                    }
                    default:
                        break;
                }
            }
        }
        catch
        {
            foreach (var (_, layer) in layers) layer.Dispose();
            throw;
        }

        // The plan: Constant nodes are evaluated once; fused Adds disappear; the rest run their kernels.
        var constants = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var plan = new List<OnnxNode>();
        for (int i = 0; i < nodes.Count; i++)
        {
            if (fusedAway.Contains(i)) continue;
            var node = nodes[i];
            var attrs = new OnnxAttributes(node, Label(i));
            if (node.OpType == "Constant")
            {
                constants[node.Output[0]] = ShapeKernels.ConstantValue(attrs, $"{what}: ONNX node {Label(i)}");
                continue;
            }
            if (boundKernels.TryGetValue(i, out var bound))
                plan.Add(new OnnxNode(node.OpType, Label(i), bound.Inputs, bound.Outputs, attrs, opset, bound.Kernel));
            else
            {
                OnnxKernels.TryGet(node.OpType, out var kernel);
                plan.Add(new OnnxNode(node.OpType, Label(i), node.Input.ToArray(), node.Output.ToArray(), attrs, opset, kernel));
            }
        }
        var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int p = 0; p < plan.Count; p++)
            foreach (var name in plan[p].Inputs)
                if (name.Length > 0) lastUse[name] = p;
        for (int p = 0; p < plan.Count; p++)
        {
            foreach (var name in plan[p].Outputs)
                if (name.Length > 0 && !graphOutputs.Contains(name) && !lastUse.ContainsKey(name)) plan[p].DeadAfter.Add(name);
        }
        foreach (var (name, p) in lastUse)
            if (!graphOutputs.Contains(name)) plan[p].DeadAfter.Add(name);

        var graphBytes = WithoutWeights(model).ToByteArray();
        var bufferOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var module = new OnnxModule(plan, inputs, outputs, constants, bufferOf, layerOf, graphBytes,
            layerUses.OrderBy(u => u.Node).ToList(), opset);
        try
        {
            var namespaces = new Dictionary<string, LayerContainer>(StringComparer.Ordinal) { [""] = module };
            LayerContainer Namespace(string prefix)
            {
                if (namespaces.TryGetValue(prefix, out var ns)) return ns;
                int dot = prefix.LastIndexOf('.');
                var parent = Namespace(dot < 0 ? "" : prefix[..dot]);
                var created = new LayerNamespace();
                parent.register_module(dot < 0 ? prefix : prefix[(dot + 1)..], created);
                return namespaces[prefix] = created;
            }
            (LayerContainer Parent, string Local) Split(string path)
            {
                int dot = path.LastIndexOf('.');
                return (Namespace(dot < 0 ? "" : path[..dot]), dot < 0 ? path : path[(dot + 1)..]);
            }
            foreach (var (path, layer) in layers)
            {
                var (parent, local) = Split(path);
                parent.register_module(local, layer);
            }
            layers.Clear();
            foreach (var init in g.Initializer)
            {
                if (layerOf.ContainsKey(init.Name)) continue;
                string path = names.Claim(OnnxLayerNaming.Sanitize(init.Name));
                var (parent, local) = Split(path);
                parent.register_buffer(local, Value(init.Name));
                bufferOf[init.Name] = path;
            }
            return module;
        }
        catch
        {
            foreach (var (_, layer) in layers) layer.Dispose();
            module.Dispose();
            throw;
        }
    }

    private static OnnxKernel LinearKernel(string path) =>
        (n, x, c) => OnnxKernels.One(c.Layer(path).forward(n.In(x, 0)));

    private static OnnxKernel EmbeddingKernel(string path, long rows) =>
        (n, x, c) =>
        {
            using var idx = ShapeKernels.NormalizeIndices(n.In(x, 0), rows);
            return OnnxKernels.One(c.Layer(path).forward(idx));
        };

    private static OnnxKernel ConvKernel(string path, long[]? extraPads, long[] kernel, long[] strides, long[] dilations) =>
        (n, x, c) =>
        {
            var input = n.In(x, 0);
            var pads = extraPads ?? NeuralKernels.ExplicitPads(n, input.shape[2..], kernel, strides, dilations);
            using var padded = NeuralKernels.Pad(input, pads, 0);
            return OnnxKernels.One(c.Layer(path).forward(padded));
        };
}

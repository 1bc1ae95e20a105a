using Compressor.Sdk.Layers;
using Compressor.Engine.Onnx.Export;
using Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>The ONNX export of an imported graph (<see cref="OnnxModule"/>): the original graph, re-emitted from the
/// module's current tensors.
/// <list type="number">
/// <item>Inputs and outputs are the original ones (names, element types, symbolic dimensions).</item>
/// <item>Initializers come first, in the original order and under their original names and element types: every
/// buffer from its current tensor, and the weights and biases of each layer still of its imported kind
/// (<c>Linear</c>, <c>Conv2d</c>, <c>Embedding</c> of the same shape) from that layer.</item>
/// <item>Then every original node in order (Constant nodes included) through
/// <see cref="IOnnxExportContext.AddSourceNode"/>, so that it is converted to the declared opset where ONNX changed
/// its signature. A node that calls a layer still of its imported kind is re-emitted as it was (a Gemm with
/// <c>alpha</c>/<c>beta</c> set to 1, since the importer folded them into the layer); a node whose layer was
/// replaced (e.g. by a compressed layer) is emitted through <see cref="IOnnxExportContext.EmitChild"/>, which lowers
/// it, followed by an Identity to the original output name. A MatMul fused with its bias Add is one layer: its bias
/// comes back with it, from the layer (the lowering's Add for a compressed layer). A Conv's one-sided padding, which
/// the importer applies before the layer, becomes a Pad node before a replaced Conv. A BatchNormalization that a fold
/// left as the identity (<see cref="OnnxNormalizationFold.IsIdentity"/>) becomes an Identity, without its parameters.</item>
/// </list>
/// Everything is emitted in graph order with names taken from the graph or the context, so the bytes depend only on
/// the module's tensors.</summary>
internal static class OnnxGraphReemission
{
    /// <summary>The example size of symbolic dimensions in verification: 2 for the first (batch), 16 for the others.</summary>
    private const long ExampleBatch = 2, ExampleLength = 16;

    /// <summary>The graph inputs. Integer inputs read by an embedding layer's Gather are fed indices below the
    /// table's row count; other integer inputs (attention masks) are fed ones (<see cref="OnnxValueSpec.ValueLimit"/> 0).</summary>
    public static IReadOnlyList<OnnxValueSpec> Inputs(OnnxModule module)
    {
        var graph = module.GraphWithoutWeights().Graph;
        var specs = new List<OnnxValueSpec>();
        foreach (var name in module.InputNames)
        {
            var info = graph.Input.First(i => i.Name == name);
            long limit = 0;
            foreach (var use in module.LayerUses.Where(u => u.Input == name))
            {
                long rows = module.ResolveLayer(use.Path) switch
                {
                    Embedding e => e.weight!.shape[0],
                    ICompressedLayer c when graph.Node[use.Node].OpType == "Gather" => c.DenseWeightShape[0],
                    _ => 0,
                };
                if (rows > 0) limit = limit == 0 ? rows : Math.Min(limit, rows);
            }
            specs.Add(Spec(info, limit));
        }
        return specs;
    }

    /// <summary>The graph outputs.</summary>
    public static IReadOnlyList<OnnxValueSpec> Outputs(OnnxModule module)
    {
        var graph = module.GraphWithoutWeights().Graph;
        return module.OutputNames.Select(n => Spec(graph.Output.First(o => o.Name == n), 0)).ToList();
    }

    private static OnnxValueSpec Spec(ValueInfoProto info, long limit)
    {
        var tensorType = info.Type?.TensorType;
        int elem = tensorType?.ElemType ?? OnnxDataType.Float;
        var dims = new List<OnnxDim>();
        if (tensorType?.Shape is { } shape)
            for (int i = 0; i < shape.Dim.Count; i++)
            {
                var d = shape.Dim[i];
                long example = i == 0 ? ExampleBatch : ExampleLength;
                dims.Add(d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? OnnxDim.Fixed(d.DimValue)
                    : OnnxDim.Named(d.DimParam.Length > 0 ? d.DimParam : $"{info.Name}_dim{i}", example));
            }
        return new OnnxValueSpec(info.Name, elem, dims, limit);
    }

    /// <summary>Emits the graph of <paramref name="module"/> on the original inputs; returns the original outputs.</summary>
    public static IReadOnlyList<string> Emit(OnnxModule module, IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        if (!inputs.SequenceEqual(module.InputNames))
            throw new CompressException(ErrorKind.VerificationFailed, $"ONNX export: an imported graph is emitted on its own inputs ({string.Join(", ", module.InputNames)})");
        var model = module.GraphWithoutWeights();
        var graph = model.Graph;
        int opset = module.SourceOpset ?? context.Opset;
        var nodes = graph.Node;
        var useOfNode = module.LayerUses.ToDictionary(u => u.Node);
        var fusedAdds = module.LayerUses.Where(u => u.FusedAdd is not null).Select(u => u.FusedAdd!.Value).ToHashSet();
        var original = module.LayerUses.ToDictionary(u => u.Node, u => IsOriginalForm(module, u, nodes[u.Node]));
        // BatchNormalizations a fold left as the identity are written as Identity (ORT removes them), and their
        // parameters only when something else reads them.
        var identities = Enumerable.Range(0, nodes.Count).Where(i => !useOfNode.ContainsKey(i) && OnnxNormalizationFold.IsIdentity(module, nodes[i])).ToHashSet();
        var unread = identities.SelectMany(i => nodes[i].Input.Skip(1)).ToHashSet(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
            if (!identities.Contains(i)) unread.ExceptWith(nodes[i].Input);
        unread.ExceptWith(module.OutputNames);

        // Original value names are reserved first, so that names the lowerings pick never take one.
        var graphOutputs = module.OutputNames.ToHashSet(StringComparer.Ordinal);
        foreach (var node in nodes)
            foreach (var name in node.Output)
                if (name.Length > 0 && !graphOutputs.Contains(name)) context.UniqueName(name);

        // Initializers, in the original order: buffers, and the tensors of layers still of their imported kind.
        var fromLayer = new Dictionary<string, Func<Tensor>>(StringComparer.Ordinal);
        foreach (var use in module.LayerUses.Where(u => original[u.Node]))
            foreach (var (name, tensor) in LayerTensors(module, use, nodes))
                fromLayer.TryAdd(name, tensor);
        var buffers = module.named_buffers().ToDictionary(b => b.name, b => b.buffer, StringComparer.Ordinal);
        using (var scope = NewDisposeScope())
        {
            foreach (var init in graph.Initializer)
            {
                Tensor? value = module.BufferOfInitializer.TryGetValue(init.Name, out var path) ? buffers[path]
                    : fromLayer.TryGetValue(init.Name, out var make) ? make() : null;
                if (value is null || unread.Contains(init.Name)) continue;
                context.AddInitializer(Initializer(init, value));
            }
        }

        for (int i = 0; i < nodes.Count; i++)
        {
            if (fusedAdds.Contains(i)) continue;
            var node = nodes[i];
            if (identities.Contains(i))
            {
                context.AddNode("Identity", [node.Input[0]], [node.Output[0]]);
                continue;
            }
            if (!useOfNode.TryGetValue(i, out var use))
            {
                context.AddSourceNode(node, opset);
                continue;
            }
            if (original[i])
            {
                if (node.OpType == "Gemm") context.AddSourceNode(WithUnitScales(node), opset);
                else context.AddSourceNode(node, opset);
                if (use.FusedAdd is { } add) context.AddSourceNode(nodes[add], opset);
                continue;
            }
            string input = use.Input;
            if (node.OpType == "Conv")
            {
                if (use.ExtraPads is null)
                    throw new CompressException(ErrorKind.VerificationFailed, $"ONNX export: the replaced layer '{use.Path}' stands for a Conv with auto_pad SAME, which has no export");
                if (use.ExtraPads.Any(p => p != 0))
                {
                    long[] p = use.ExtraPads;
                    string padded = context.UniqueName(use.Path + "/pad");
                    input = context.AddNode("Pad", [input, context.Int64Constant(0, 0, p[0], p[1], 0, 0, p[2], p[3])], [padded],
                        new Dictionary<string, object> { ["mode"] = "constant" });
                }
            }
            var outputs = context.EmitChild(use.Path, [input]);
            if (outputs.Count != 1)
                throw new CompressException(ErrorKind.VerificationFailed, $"ONNX export: the replaced layer '{use.Path}' emitted {outputs.Count} outputs, expected one");
            context.AddNode("Identity", [outputs[0]], [use.Output]);
        }
        return module.OutputNames;
    }

    /// <summary>Whether the layer a node calls is still of the kind and shape the importer made (so the original node
    /// and its initializers express it exactly).</summary>
    private static bool IsOriginalForm(OnnxModule module, OnnxLayerUse use, NodeProto node)
    {
        var layer = module.ResolveLayer(use.Path);
        return node.OpType switch
        {
            "MatMul" => layer is Linear l && (l.bias is not null) == (use.FusedAdd is not null),
            "Gemm" => layer is Linear l && (l.bias is not null) == (node.Input.Count > 2 && node.Input[2].Length > 0),
            "Conv" => layer is Conv2d c && (c.bias is not null) == (node.Input.Count > 2 && node.Input[2].Length > 0),
            "Gather" => layer is Embedding,
            _ => false,
        };
    }

    /// <summary>The initializers of a node whose layer keeps its imported form, computed from the layer.</summary>
    private static IEnumerable<(string Name, Func<Tensor> Tensor)> LayerTensors(OnnxModule module, OnnxLayerUse use, IReadOnlyList<NodeProto> nodes)
    {
        var node = nodes[use.Node];
        var layer = module.ResolveLayer(use.Path);
        switch (node.OpType)
        {
            case "MatMul":
            {
                var linear = (Linear)layer;
                yield return (node.Input[1], () => linear.weight!.detach().t());
                if (use.FusedAdd is not null)
                {
                    var add = nodes[use.FusedAdd.Value];
                    string bias = add.Input[0] == node.Output[0] ? add.Input[1] : add.Input[0];
                    yield return (bias, () => linear.bias!.detach());
                }
                break;
            }
            case "Gemm":
            {
                var linear = (Linear)layer;
                bool transB = node.Attribute.Any(a => a.Name == "transB" && a.I != 0);
                yield return (node.Input[1], () => transB ? linear.weight!.detach() : linear.weight!.detach().t());
                if (node.Input.Count > 2 && node.Input[2].Length > 0) yield return (node.Input[2], () => linear.bias!.detach());
                break;
            }
            case "Conv":
            {
                var conv = (Conv2d)layer;
                yield return (node.Input[1], () => conv.weight!.detach());
                if (node.Input.Count > 2 && node.Input[2].Length > 0) yield return (node.Input[2], () => conv.bias!.detach());
                break;
            }
            case "Gather":
                yield return (node.Input[0], () => ((Embedding)layer).weight!.detach());
                break;
        }
    }

    /// <summary>A Gemm with <c>alpha</c> and <c>beta</c> set to 1: the importer folded them into the layer's tensors.</summary>
    private static NodeProto WithUnitScales(NodeProto node)
    {
        var copy = node.Clone();
        foreach (var a in copy.Attribute)
            if (a.Name is "alpha" or "beta") a.F = 1f;
        return copy;
    }

    /// <summary>The current value of an original initializer, in its original element type and shape.</summary>
    private static OnnxInitializer Initializer(TensorProto original, Tensor value)
    {
        var type = OnnxTensorConversion.ScalarTypeOf(original.DataType)
                   ?? throw new CompressException(ErrorKind.VerificationFailed, $"ONNX export: initializer '{original.Name}' has element type {OnnxTensorConversion.NameOf(original.DataType)}");
        var t = value.detach().cpu().to_type(type).reshape(original.Dims.ToArray()).contiguous();
        return new OnnxInitializer(original.Name, original.DataType, t.shape, t.bytes.ToArray());
    }
}

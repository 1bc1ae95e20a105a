using Onnx;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Converts nodes written for an older <c>ai.onnx</c> opset (added with
/// <see cref="IOnnxExportContext.AddSourceNode"/>) to the opset a model declares, where ONNX changed an operator's
/// signature in between (converted only when the change lies between the two opsets):
/// <list type="bullet">
/// <item>attributes that became inputs: <c>axes</c> of ReduceSum (13), of the other Reduce* (18), of Squeeze and
/// Unsqueeze (13); <c>split</c> of Split (13); <c>min</c>/<c>max</c> of Clip (11); <c>pads</c>/<c>value</c> of Pad
/// (11); <c>starts</c>/<c>ends</c>/<c>axes</c> of Slice (10); <c>k</c> of TopK (10);</item>
/// <item>Split without sizes gets <c>num_outputs</c> (18);</item>
/// <item>BatchNormalization loses <c>spatial</c> (9; only the default, 1, has a later form) and its unused optional
/// outputs (14);</item>
/// <item>Dropout (inference) becomes Identity (its <c>ratio</c> became an input at 12);</item>
/// <item>Softmax, LogSoftmax and Hardmax before 13 coerce their input to 2-D at <c>axis</c>: unless the axis is the
/// last, they become Flatten → op(axis 1) → Reshape to the input's shape (13).</item>
/// </list>
/// Operators ONNX removed or reshaped with no equivalent here (Upsample, Scatter, Resize before 11, …) fail the export
/// with one line naming the node.</summary>
internal static class OnnxOpsetUpgrade
{
    private static readonly HashSet<string> ReduceWithAxesInputAt18 = new(StringComparer.Ordinal)
    {
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    };

    private static readonly HashSet<string> Unconvertible = new(StringComparer.Ordinal) { "Upsample", "Scatter", "ImageScaler", "Crop", "Affine" };

    /// <summary>Rewrites <paramref name="builder"/>'s source nodes for <paramref name="target"/>.</summary>
    /// <exception cref="CompressException">A node has no conversion (kind <see cref="ErrorKind.VerificationFailed"/>).</exception>
    internal static void Apply(OnnxGraphBuilder builder, int target)
    {
        if (builder.SourceNodes.Count == 0) return;
        var result = new List<NodeProto>(builder.Nodes.Count);
        var problems = new List<string>();
        foreach (var node in builder.Nodes)
        {
            if (!builder.SourceNodes.TryGetValue(node, out int from) || from >= target) result.Add(node);
            else result.AddRange(Convert(builder, node, from, target, problems));
        }
        if (problems.Count > 0)
            throw new CompressException(ErrorKind.VerificationFailed, $"ONNX export: cannot convert to opset {target}: {string.Join("; ", problems.Take(5))}");
        builder.Nodes.Clear();
        builder.Nodes.AddRange(result);
    }

    private static IEnumerable<NodeProto> Convert(OnnxGraphBuilder builder, NodeProto node, int from, int to, List<string> problems)
    {
        bool Crosses(int version) => from < version && version <= to;
        string where = $"{node.OpType} '{node.Name}' (opset {from})";
        switch (node.OpType)
        {
            case "ReduceSum" when Crosses(13):
            case "Squeeze" or "Unsqueeze" when Crosses(13):
            case var op when ReduceWithAxesInputAt18.Contains(op) && Crosses(18):
                if (Take(node, "axes") is { } reduced) SetInput(node, 1, builder.Int64Constant(reduced.Ints.ToArray()));
                break;
            case "Split":
                if (Crosses(13) && Take(node, "split") is { } split) SetInput(node, 1, builder.Int64Constant(split.Ints.ToArray()));
                if (Crosses(18) && (node.Input.Count < 2 || node.Input[1].Length == 0))
                    node.Attribute.Add(new AttributeProto { Name = "num_outputs", Type = AttributeProto.Types.AttributeType.Int, I = node.Output.Count });
                break;
            case "Clip" when Crosses(11):
            {
                var min = Take(node, "min");
                var max = Take(node, "max");
                if (min is not null) SetInput(node, 1, builder.FloatConstant(min.F));
                if (max is not null) SetInput(node, 2, builder.FloatConstant(max.F));
                break;
            }
            case "Pad" when Crosses(11):
            {
                var pads = Take(node, "pads") ?? Take(node, "paddings");
                var value = Take(node, "value");
                if (pads is null) problems.Add($"{where}: no pads");
                else SetInput(node, 1, builder.Int64Constant(pads.Ints.ToArray()));
                if (value is not null && value.F != 0) SetInput(node, 2, builder.FloatConstant(value.F));
                break;
            }
            case "Slice" when Crosses(10):
            {
                var starts = Take(node, "starts");
                var ends = Take(node, "ends");
                var axes = Take(node, "axes");
                if (starts is null || ends is null)
                {
                    problems.Add($"{where}: no starts/ends");
                    break;
                }
                SetInput(node, 1, builder.Int64Constant(starts.Ints.ToArray()));
                SetInput(node, 2, builder.Int64Constant(ends.Ints.ToArray()));
                if (axes is not null) SetInput(node, 3, builder.Int64Constant(axes.Ints.ToArray()));
                break;
            }
            case "TopK" when Crosses(10):
                if (Take(node, "k") is { } k) SetInput(node, 1, builder.Int64Constant([k.I]));
                else problems.Add($"{where}: no k");
                break;
            case "BatchNormalization":
                if (Crosses(9) && Take(node, "spatial") is { } spatial && spatial.I != 1)
                    problems.Add($"{where}: spatial = {spatial.I} has no form after opset 8");
                if (Crosses(14))
                {
                    while (node.Output.Count > 1 && node.Output[^1].Length == 0) node.Output.RemoveAt(node.Output.Count - 1);
                    if (node.Output.Count > 1) problems.Add($"{where}: its mean/variance outputs exist only in training mode from opset 14");
                }
                break;
            case "Dropout" when Crosses(12):
                if (node.Output.Count > 1 && node.Output[1].Length > 0) problems.Add($"{where}: its mask output has no inference form");
                else
                {
                    var identity = new NodeProto { OpType = "Identity", Name = node.Name };
                    identity.Input.Add(node.Input[0]);
                    identity.Output.Add(node.Output[0]);
                    return [identity];
                }
                break;
            case "Softmax" or "LogSoftmax" or "Hardmax" when Crosses(13):
            {
                long axis = Take(node, "axis")?.I ?? 1;
                if (axis == -1) break;
                string x = node.Input[0], y = node.Output[0];
                string shape = builder.Unique(y + "/input_shape"), flat = builder.Unique(y + "/flat"), op = builder.Unique(y + "/" + node.OpType);
                return
                [
                    Node("Shape", shape, [x]),
                    Node("Flatten", flat, [x], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis }),
                    Node(node.OpType, op, [flat], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 }),
                    Node("Reshape", y, [op, shape]),
                ];
            }
            case "Resize" when Crosses(11):
                problems.Add($"{where}: Resize changed its inputs and modes at opset 11; no conversion");
                break;
            case var op when Unconvertible.Contains(op):
                problems.Add($"{where}: {op} was removed from ONNX; no conversion");
                break;
        }
        return [node];
    }

    private static NodeProto Node(string opType, string output, string[] inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private static AttributeProto? Take(NodeProto node, string name)
    {
        for (int i = 0; i < node.Attribute.Count; i++)
            if (node.Attribute[i].Name == name)
            {
                var a = node.Attribute[i];
                node.Attribute.RemoveAt(i);
                return a;
            }
        return null;
    }

    private static void SetInput(NodeProto node, int index, string value)
    {
        while (node.Input.Count <= index) node.Input.Add("");
        node.Input[index] = value;
    }
}

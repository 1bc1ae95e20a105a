using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>SmoothQuant's fold on an imported graph (<see cref="Compressor.Sdk.Models.CompressibleModel.FoldInputScale"/>):
/// the layers must read one value and be its only readers; its producer absorbs the per-channel division when it is
/// <list type="bullet">
/// <item>a LayerNormalization node (its scale and bias initializers), or the Mul(γ) → Add(β) tail of a decomposed
/// layer normalisation (PyTorch's export of LayerNorm before opset 17), γ and β constant [C]: both are divided;</item>
/// <item>a still-dense linear layer reached back through single-reader Reshape and Transpose nodes and the right-hand
/// operand of MatMul (the attention product A·V keeps V's channels): its weight rows and bias are divided.</item>
/// </list>
/// A BERT-style post-norm encoder's LayerNorm output also feeds the residual branch, so it is not absorbed (the fold
/// would change the residual); its attention output projection is (through the value projection). The caller checks the
/// model's output after a fold (a reshape that mixes channels would change it).</summary>
internal static class OnnxInputScaleFold
{
    public static string? Fold(OnnxModule module, IReadOnlyList<string> layers, Tensor divisor)
    {
        var uses = layers.Select(l => module.LayerUses.FirstOrDefault(u => u.Path == l)).ToList();
        if (uses.Count == 0 || uses.Any(u => u is null)) return null;
        string value = uses[0]!.Input;
        if (uses.Any(u => u!.Input != value)) return null;
        var graph = module.GraphWithoutWeights().Graph;
        var nodes = graph.Node;
        var layerNodes = uses.Select(u => u!.Node).ToHashSet();
        var readers = Readers(nodes, value);
        if (readers.Count == 0 || readers.Any(r => !layerNodes.Contains(r))) return null;
        var producer = nodes.Select((n, i) => (n, i)).FirstOrDefault(p => p.n.Output.Contains(value));
        if (producer.n is null) return null;
        using var noGrad = no_grad();
        long channels = divisor.numel();

        // A layer normalisation's scale and shift.
        if (producer.n.OpType == "LayerNormalization" && producer.n.Input.Count >= 2)
        {
            var scale = Buffer(module, producer.n.Input[1], channels);
            var bias = producer.n.Input.Count > 2 && producer.n.Input[2].Length > 0 ? Buffer(module, producer.n.Input[2], channels) : null;
            if (scale is null || (producer.n.Input.Count > 2 && producer.n.Input[2].Length > 0 && bias is null)) return null;
            Divide(scale, divisor);
            if (bias is not null) Divide(bias, divisor);
            return producer.n.Name.Length > 0 ? producer.n.Name : producer.n.OpType;
        }
        if (producer.n.OpType == "Add" && TryAffine(module, nodes, producer.n, channels, out var gamma, out var beta, out string name))
        {
            Divide(gamma!, divisor);
            Divide(beta!, divisor);
            return name;
        }

        // A dense linear layer through channel-keeping nodes.
        string current = value;
        for (int hops = 0; hops < 16; hops++)
        {
            var use = module.LayerUses.FirstOrDefault(u => u.Output == current);
            if (use is not null)
            {
                if (module.ResolveLayer(use.Path) is not TorchSharp.Modules.Linear linear || linear.weight!.shape[0] != channels) return null;
                var s = divisor.to(linear.weight!.device).to_type(linear.weight!.dtype);
                linear.weight!.div_(s.unsqueeze(1));
                linear.bias?.div_(s);
                return use.Path;
            }
            var p = nodes.FirstOrDefault(n => n.Output.Contains(current));
            if (p is null || Readers(nodes, current).Count != 1) return null;
            if (p.OpType is "Reshape" or "Transpose") current = p.Input[0];
            else if (p.OpType == "MatMul" && p.Input.Count == 2) current = p.Input[1];
            else return null;
            if (Readers(nodes, current).Count != 1) return null;
        }
        return null;
    }

    /// <summary>The nodes that read <paramref name="value"/>'s elements (a Shape node reads only its shape).</summary>
    private static List<int> Readers(IList<NodeProto> nodes, string value) =>
        nodes.Select((n, i) => (n, i)).Where(p => p.n.OpType != "Shape" && p.n.Input.Contains(value)).Select(p => p.i).ToList();

    /// <summary>Add(Mul(x, γ), β) with γ, β constant [C] and the Mul read by this Add only.</summary>
    private static bool TryAffine(OnnxModule module, IList<NodeProto> nodes, NodeProto add, long channels, out Tensor? gamma, out Tensor? beta, out string name)
    {
        gamma = beta = null;
        name = add.Name;
        for (int i = 0; i < 2; i++)
        {
            beta = Buffer(module, add.Input[1 - i], channels);
            if (beta is null) continue;
            var mul = nodes.FirstOrDefault(n => n.Output.Contains(add.Input[i]));
            if (mul is null || mul.OpType != "Mul" || Readers(nodes, add.Input[i]).Count != 1) return false;
            for (int j = 0; j < 2; j++)
            {
                gamma = Buffer(module, mul.Input[j], channels);
                if (gamma is not null)
                {
                    name = (mul.Name.Length > 0 ? mul.Name : "Mul") + " + " + (add.Name.Length > 0 ? add.Name : "Add");
                    return true;
                }
            }
            return false;
        }
        return false;
    }

    /// <summary>The buffer holding initializer <paramref name="initializer"/> when it is a float vector of
    /// <paramref name="channels"/> entries, else null.</summary>
    private static Tensor? Buffer(OnnxModule module, string initializer, long channels)
    {
        if (!module.BufferOfInitializer.TryGetValue(initializer, out var bufferName)) return null;
        foreach (var (n, t) in module.named_buffers())
            if (n == bufferName)
                return t.is_floating_point() && t.numel() == channels && t.shape[^1] == channels ? t : null;
        return null;
    }

    private static void Divide(Tensor target, Tensor divisor)
    {
        using var s = divisor.to(target.device).to_type(target.dtype).reshape(target.shape);
        target.div_(s);
    }
}

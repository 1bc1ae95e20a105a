using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Folds the BatchNormalization that reads a convolution's output into the convolution
/// (<see cref="Compressor.Sdk.Models.CompressibleModel.FoldOutputNormalization"/>): with a = γ/√(σ² + ε) per channel,
/// the weight rows are multiplied by a and the bias becomes a·b + β − a·μ (a convolution without a bias gets one), so
/// the convolution writes the normalised values themselves. The normalisation is left as the identity: γ = 1, β = 0,
/// μ = 0 and σ² the float32 value with σ² + ε = 1 exactly, so that it passes its input through unchanged in TorchSharp
/// and is written as an Identity on export (<see cref="IsIdentity"/>). The model computes the same function; the
/// convolution's output then has the normalised channels' range with their shifts included — what one static output
/// grid (QLinearConv) can hold, and what a ReLU after it clips at 0. The convolution's output must be read by that
/// normalisation only; its parameters must be stored buffers of [C].</summary>
internal static class OnnxNormalizationFold
{
    public static string? Fold(OnnxModule module, string layer)
    {
        var use = module.LayerUses.FirstOrDefault(u => u.Path == layer);
        if (use is null || module.ResolveLayer(layer) is not TorchSharp.Modules.Conv2d conv) return null;
        var nodes = module.GraphWithoutWeights().Graph.Node;
        var readers = nodes.Where(n => n.OpType != "Shape" && n.Input.Contains(use.Output)).ToList();
        if (readers.Count != 1 || readers[0] is not { OpType: "BatchNormalization" } bn || bn.Input.Count < 5 || bn.Input[0] != use.Output) return null;
        if (bn.Attribute.Any(a => a.Name == "training_mode" && a.I != 0)) return null;
        long channels = conv.weight!.shape[0];
        var gamma = Buffer(module, bn.Input[1], channels);
        var beta = Buffer(module, bn.Input[2], channels);
        var mean = Buffer(module, bn.Input[3], channels);
        var variance = Buffer(module, bn.Input[4], channels);
        if (gamma is null || beta is null || mean is null || variance is null) return null;
        float eps = Epsilon(bn);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var a = gamma.to_type(ScalarType.Float64).div(variance.to_type(ScalarType.Float64).add(eps).sqrt());
        var w = conv.weight!;
        w.copy_(w.to_type(ScalarType.Float64).mul(a.to(w.device).reshape(-1, 1, 1, 1)).to_type(w.dtype));
        var shift = beta.to_type(ScalarType.Float64).sub(a.mul(mean.to_type(ScalarType.Float64)));
        if (conv.bias is { } b)
            b.copy_(b.to_type(ScalarType.Float64).mul(a.to(b.device)).add(shift.to(b.device)).to_type(b.dtype));
        else
            conv.bias = new TorchSharp.Modules.Parameter(shift.to_type(w.dtype).to(w.device).DetachFromDisposeScope());
        gamma.fill_(1);
        beta.fill_(0);
        mean.fill_(0);
        variance.fill_(IdentityVariance(eps));
        return bn.Name.Length > 0 ? bn.Name : bn.OpType;
    }

    /// <summary>Whether <paramref name="node"/> is a BatchNormalization in inference mode that a fold left as the
    /// identity (its stored γ = 1, β = 0, μ = 0, σ² = <see cref="IdentityVariance"/>): it passes its input unchanged.</summary>
    public static bool IsIdentity(OnnxModule module, NodeProto node)
    {
        if (node.OpType != "BatchNormalization" || node.Input.Count < 5 || node.Output.Count(o => o.Length > 0) != 1) return false;
        if (node.Attribute.Any(a => a.Name == "training_mode" && a.I != 0)) return false;
        var gamma = Buffer(module, node.Input[1], -1);
        var beta = Buffer(module, node.Input[2], -1);
        var mean = Buffer(module, node.Input[3], -1);
        var variance = Buffer(module, node.Input[4], -1);
        if (gamma is null || beta is null || mean is null || variance is null) return false;
        using var scope = NewDisposeScope();
        return gamma.eq(1).all().item<bool>() && beta.eq(0).all().item<bool>() && mean.eq(0).all().item<bool>()
               && variance.eq(IdentityVariance(Epsilon(node))).all().item<bool>();
    }

    /// <summary>The float32 σ² nearest 1 − ε with σ² + ε = 1 exactly in float32 (and in double, √ rounding to 1 in
    /// float32): a normalisation with γ = 1, β = 0, μ = 0 and this variance multiplies by exactly 1.</summary>
    public static float IdentityVariance(float eps)
    {
        float v = 1f - eps;
        for (int i = 0; i < 8 && v + eps != 1f; i++) v = v + eps < 1f ? MathF.BitIncrement(v) : MathF.BitDecrement(v);
        return v;
    }

    private static float Epsilon(NodeProto bn) => bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;

    /// <summary>The stored buffer of initializer <paramref name="initializer"/> when it is a float vector of
    /// <paramref name="channels"/> entries (any number when negative), else null.</summary>
    private static Tensor? Buffer(OnnxModule module, string initializer, long channels)
    {
        if (!module.BufferOfInitializer.TryGetValue(initializer, out var bufferName)) return null;
        foreach (var (n, t) in module.named_buffers())
            if (n == bufferName)
                return t.is_floating_point() && (channels < 0 ? t.dim() == 1 : t.numel() == channels) ? t : null;
        return null;
    }
}
